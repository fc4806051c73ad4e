// DAFormer head and SegFormer head. Sources: DAFormer e6f6e04
// mmseg/models/decode_heads/{daformer_head,segformer_head,sep_aspp_head,
// aspp_head,decode_head}.py, cited as [daf], [segf], [sep], [aspp], [base].
#include "models/layers/sample_randomness.h"
#include <torch/torch.h>

#include "core/error.h"
#include "models/daformer_head.h"
#include "models/segformer_head.h"

namespace uda::models {
namespace F = torch::nn::functional;

namespace {
// mmseg.ops.resize to a spatial size, bilinear.
torch::Tensor resize_to(const torch::Tensor& x, c10::IntArrayRef size, bool align_corners) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{size[0], size[1]})
                               .mode(torch::kBilinear)
                               .align_corners(align_corners));
}

void check_levels(const std::vector<torch::Tensor>& f, size_t n, const char* head) {
  if (f.size() != n)
    throw std::invalid_argument(std::string(head) + ": expected " + std::to_string(n) + " feature levels, got " +
                                std::to_string(f.size()));
}
}  // namespace

ASPPWrapperImpl::ASPPWrapperImpl(int64_t in, int64_t channels, bool sep, const std::vector<int64_t>& dilations,
                                 bool pool, bool align_corners)
    : align_corners_(align_corners) {
  if (pool) {
    // [daf] image_pool = Sequential(AdaptiveAvgPool2d(1), ConvModule 1x1).
    ConvModuleOptions o;
    o.in = in, o.out = channels, o.kernel = 1;
    image_pool_ = register_module(
        "image_pool", torch::nn::Sequential(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)),
                                            ConvModule(o)));
  }
  // [aspp] ASPPModule: dilation 1 -> 1x1 conv, no padding; else 3x3 with
  // padding = dilation. [sep] DepthwiseSeparableASPPModule replaces every
  // dilation > 1 branch with a depthwise-separable 3x3 module.
  for (auto d : dilations) {
    if (d > 1 && sep) {
      aspp_modules_->push_back(DepthwiseSeparableConvModule(in, channels, 3, d, d));
    } else {
      ConvModuleOptions o;
      o.in = in, o.out = channels, o.kernel = d == 1 ? 1 : 3, o.dilation = d, o.padding = d == 1 ? 0 : d;
      aspp_modules_->push_back(ConvModule(o));
    }
  }
  register_module("aspp_modules", aspp_modules_);
  // [daf] bottleneck: 3x3, padding 1, over (branches + pool) * channels.
  ConvModuleOptions b;
  b.in = static_cast<int64_t>(dilations.size() + (pool ? 1 : 0)) * channels, b.out = channels, b.kernel = 3,
  b.padding = 1;
  bottleneck_ = register_module("bottleneck", ConvModule(b));
}

torch::Tensor ASPPWrapperImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> outs;
  if (image_pool_) outs.push_back(resize_to(image_pool_->forward(x), x.sizes().slice(2), align_corners_));
  for (const auto& m : *aspp_modules_) {
    if (auto* c = m->as<ConvModuleImpl>())
      outs.push_back(c->forward(x));
    else
      outs.push_back(m->as<DepthwiseSeparableConvModuleImpl>()->forward(x));
  }
  return bottleneck_->forward(torch::cat(outs, 1));
}

DAFormerHeadImpl::DAFormerHeadImpl(const DAFormerHeadConfig& cfg) : cfg_(cfg) {
  if (cfg.align_corners)
    throw UserError("the DAFormer head requires align_corners false", "model.align_corners",
                    "set model.align_corners to false (DAFormerHead asserts it)");
  // [daf] embed_layers: ModuleDict keyed by level index, MLP (Linear) per level.
  torch::nn::ModuleDict dict;
  for (size_t i = 0; i < cfg.in_channels.size(); ++i) {
    embeds_.push_back(MLPEmbed(cfg.in_channels[i], cfg.embed_dims));
    dict->update({{std::to_string(i), embeds_.back().ptr()}});
  }
  register_module("embed_layers", dict);
  const int64_t fused_in = cfg.embed_dims * static_cast<int64_t>(cfg.in_channels.size());
  if (cfg.fusion == "aspp") {
    aspp_ = register_module("fuse_layer",
                            ASPPWrapper(fused_in, cfg.channels, cfg.sep, cfg.dilations, cfg.pool, cfg.align_corners));
  } else if (cfg.fusion == "conv") {
    ConvModuleOptions o;
    o.in = fused_in, o.out = cfg.channels, o.kernel = cfg.fusion_kernel, o.padding = cfg.fusion_kernel / 2;
    fuse_conv_ = register_module("fuse_layer", ConvModule(o));
  } else {
    throw UserError("unknown DAFormer fusion '" + cfg.fusion + "'", "model.head.fusion", "use aspp or conv");
  }
  // [base] cls_seg: Dropout2d(dropout_ratio) then conv_seg 1x1 with bias.
  conv_seg_ = register_module("conv_seg", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.channels, cfg.num_classes, 1)));
}

torch::Tensor DAFormerHeadImpl::forward(const std::vector<torch::Tensor>& features) {
  check_levels(features, embeds_.size(), "DAFormerHead");
  const auto os_size = features[0].sizes().slice(2);
  std::vector<torch::Tensor> levels;
  for (size_t i = 0; i < features.size(); ++i) {
    auto e = embeds_[i]->forward_map(features[i]);
    // [daf] every level not already at level-0 size is resized to it.
    if (e.sizes().slice(2) != os_size) e = resize_to(e, os_size, cfg_.align_corners);
    levels.push_back(e);
  }
  auto x = torch::cat(levels, 1);
  x = aspp_ ? aspp_->forward(x) : fuse_conv_->forward(x);
  x = sample_dropout2d(x, cfg_.dropout_ratio, is_training());
  return conv_seg_->forward(x);
}

SegFormerHeadImpl::SegFormerHeadImpl(const SegFormerHeadConfig& cfg) : cfg_(cfg) {
  torch::nn::ModuleDict dict;
  for (size_t i = 0; i < cfg.in_channels.size(); ++i) {
    linear_c_.push_back(MLPEmbed(cfg.in_channels[i], cfg.embed_dim));
    dict->update({{std::to_string(i), linear_c_.back().ptr()}});
  }
  // [base] creates conv_seg (unused by SegFormerHead) and dropout before the
  // subclass builds its own layers; registration order follows the file.
  conv_seg_ = register_module("conv_seg", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.channels, cfg.num_classes, 1)));
  register_module("linear_c", dict);
  // [segf] linear_fuse: ConvModule with BN and ReLU, padding k//2 (0 for 1x1).
  ConvModuleOptions o;
  o.in = cfg.embed_dim * static_cast<int64_t>(cfg.in_channels.size()), o.out = cfg.embed_dim,
  o.kernel = cfg.conv_kernel_size, o.padding = cfg.conv_kernel_size == 1 ? 0 : cfg.conv_kernel_size / 2;
  linear_fuse_ = register_module("linear_fuse", ConvModule(o));
  linear_pred_ =
      register_module("linear_pred", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.embed_dim, cfg.num_classes, 1)));
}

torch::Tensor SegFormerHeadImpl::forward(const std::vector<torch::Tensor>& features) {
  check_levels(features, linear_c_.size(), "SegFormerHead");
  std::vector<torch::Tensor> levels;
  for (size_t i = 0; i < features.size(); ++i) {
    auto e = linear_c_[i]->forward_map(features[i]);
    // [segf] levels other than 0 are resized to level 0, align_corners False.
    if (i != 0) e = resize_to(e, features[0].sizes().slice(2), false);
    levels.push_back(e);
  }
  auto x = linear_fuse_->forward(torch::cat(levels, 1));
  x = sample_dropout2d(x, cfg_.dropout_ratio, is_training());
  return linear_pred_->forward(x);
}

}  // namespace uda::models
