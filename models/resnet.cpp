// ResNet trunk (DeepLabV2 and torchvision variants) and DeepLabV2 (ADVENT).
// Sources: ADVENT 3e58d45 advent/model/deeplabv2.py [dlv2]; torchvision 0.14
// models/resnet.py [tv].
#include "models/resnet.h"

#include <torch/torch.h>

#include "core/error.h"
#include "models/deeplabv2.h"
#include "models/layers/fast_weights.h"
#include "models/sync_batch_norm.h"

namespace uda::models {

bool is_resnet_name(const std::string& name) {
  return name == "resnet18" || name == "resnet34" || name == "resnet50" || name == "resnet101";
}

ResNetConfig resnet_config(const std::string& name, bool deeplab) {
  if (!is_resnet_name(name))
    throw UserError("unknown ResNet '" + name + "'", "model.backbone.type",
                    "use resnet18, resnet34, resnet50 or resnet101");
  ResNetConfig c;
  // [tv] resnet18/34/50/101: block counts of _resnet(...).
  if (name == "resnet18") c.layers = {2, 2, 2, 2};
  else if (name == "resnet101") c.layers = {3, 4, 23, 3};
  else c.layers = {3, 4, 6, 3};
  c.basic_block = name == "resnet18" || name == "resnet34";
  if (deeplab && c.basic_block)
    throw UserError("DeepLabV2 has no " + name + " backbone", "model.backbone.type",
                    "use resnet50 or resnet101 with head deeplabv2 (resnet18/34 are classifier backbones)");
  if (!deeplab) {  // [tv] plain ImageNet classifier trunk
    c.stride_in_1x1 = false;
    c.strides = {1, 2, 2, 2};
    c.dilations = {1, 1, 1, 1};
    c.ceil_mode = false;
    c.freeze_bn = false;
  }
  return c;
}

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, bool with_downsample,
                               const ConvChoice& conv, bool asr_norm) {
  namespace nn = torch::nn;
  // [tv] BasicBlock.__init__: conv3x3(inplanes, planes, stride), conv3x3(planes, planes), no bias.
  conv1 = ConvSlot(*this, "conv1", nn::Conv2dOptions(inplanes, planes, 3).stride(stride).padding(1).bias(false), conv);
  bn1 = NormSlot(*this, "bn1", planes, asr_norm);
  conv2 = ConvSlot(*this, "conv2", nn::Conv2dOptions(planes, planes, 3).padding(1).bias(false), conv);
  bn2 = NormSlot(*this, "bn2", planes, asr_norm);
  if (with_downsample) {
    nn::Sequential ds(nn::Conv2d(nn::Conv2dOptions(inplanes, planes, 1).stride(stride).bias(false)));
    NormSlot::append(ds, planes, asr_norm);
    downsample = register_module("downsample", ds);
  }
  if (conv.type == ConvType::CondConv) routing = register_module("routing", CondConvRouting(inplanes, conv.condconv_experts));
}

namespace {
// downsample = (conv, norm), run by hand so that its BatchNorm can synchronise.
torch::Tensor run_downsample(torch::nn::Sequential& ds, const torch::Tensor& x) {
  return NormSlot::run(*ds[1], conv2d(*ds[0]->as<torch::nn::Conv2dImpl>(), x));
}
}  // namespace

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  // [tv] BasicBlock.forward; convs through models/layers/fast_weights.h.
  // CondConv: one routing from the block input for every conv of the block.
  const auto r = routing ? routing->forward(x) : torch::Tensor();
  auto out = torch::relu(bn1.forward(conv1.forward(x, r)));
  out = bn2.forward(conv2.forward(out, r));
  return torch::relu(out + (downsample ? run_downsample(downsample, x) : x));
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, int64_t dilation,
                               bool with_downsample, bool stride_in_1x1, const ConvChoice& conv, bool asr_norm) {
  namespace nn = torch::nn;
  // [dlv2] Bottleneck: the stride sits on conv1 (1x1); conv2 is 3x3 with
  // padding = dilation. [tv] puts the stride on conv2 instead.
  conv1 = ConvSlot(*this, "conv1", nn::Conv2dOptions(inplanes, planes, 1).stride(stride_in_1x1 ? stride : 1).bias(false),
                   conv);
  bn1 = NormSlot(*this, "bn1", planes, asr_norm);
  conv2 = ConvSlot(*this, "conv2",
                   nn::Conv2dOptions(planes, planes, 3)
                       .stride(stride_in_1x1 ? 1 : stride)
                       .padding(dilation)
                       .dilation(dilation)
                       .bias(false),
                   conv);
  bn2 = NormSlot(*this, "bn2", planes, asr_norm);
  conv3 = ConvSlot(*this, "conv3", nn::Conv2dOptions(planes, planes * kExpansion, 1).bias(false), conv);
  bn3 = NormSlot(*this, "bn3", planes * kExpansion, asr_norm);
  if (with_downsample) {
    nn::Sequential ds(nn::Conv2d(nn::Conv2dOptions(inplanes, planes * kExpansion, 1).stride(stride).bias(false)));
    NormSlot::append(ds, planes * kExpansion, asr_norm);
    downsample = register_module("downsample", ds);
  }
  if (conv.type == ConvType::CondConv) routing = register_module("routing", CondConvRouting(inplanes, conv.condconv_experts));
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  const auto r = routing ? routing->forward(x) : torch::Tensor();
  auto out = torch::relu(bn1.forward(conv1.forward(x, r)));
  out = torch::relu(bn2.forward(conv2.forward(out, r)));
  out = bn3.forward(conv3.forward(out, r));
  return torch::relu(out + (downsample ? run_downsample(downsample, x) : x));
}

ResNetTrunk::ResNetTrunk(torch::nn::Module& owner, const ResNetConfig& cfg) : cfg_(cfg) {
  namespace nn = torch::nn;
  // [dlv2]/[tv] stem: 7x7/2 conv without bias, BN, ReLU, 3x3/2 max pool.
  conv1_ = owner.register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(cfg.in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1_ = NormSlot(owner, "bn1", 64, cfg.asr_norm);
  const int64_t expansion = cfg.basic_block ? BasicBlockImpl::kExpansion : BottleneckImpl::kExpansion;
  int64_t inplanes = 64;
  const std::array<int64_t, 4> planes{64, 128, 256, 512};
  for (int l = 0; l < 4; ++l) {
    nn::Sequential seq;
    const int64_t stride = cfg.strides[l], dilation = cfg.dilations[l];
    // [dlv2] _make_layer: the first block gets a downsample when the stride or
    // width changes, or the layer is dilated (2 or 4); [tv] _make_layer the
    // same without dilation.
    const bool ds = stride != 1 || inplanes != planes[l] * expansion || dilation == 2 || dilation == 4;
    ConvChoice choice = cfg.conv;
    if (!cfg.conv_stages[l]) choice.type = ConvType::Static;
    for (int64_t b = 0; b < cfg.layers[l]; ++b) {
      const int64_t s = b == 0 ? stride : 1;
      if (cfg.basic_block)
        seq->push_back(BasicBlock(inplanes, planes[l], s, b == 0 && ds, choice, cfg.asr_norm));
      else
        seq->push_back(
            Bottleneck(inplanes, planes[l], s, dilation, b == 0 && ds, cfg.stride_in_1x1, choice, cfg.asr_norm));
      inplanes = planes[l] * expansion;
    }
    layers_[l] = owner.register_module("layer" + std::to_string(l + 1), seq);
  }
  if (cfg.freeze_bn) {
    // [dlv2] every BatchNorm's affine parameters have requires_grad = False.
    for (auto& m : owner.modules(/*include_self=*/false))
      if (auto* bn = m->as<nn::BatchNorm2dImpl>())
        for (auto& p : bn->parameters()) p.set_requires_grad(false);
  }
}

torch::Tensor ResNetTrunk::stem(const torch::Tensor& x) {
  auto y = torch::relu(bn1_.forward(conv2d(*conv1_, x)));
  return torch::max_pool2d(y, {3, 3}, {2, 2}, {1, 1}, {1, 1}, cfg_.ceil_mode);
}

torch::Tensor ResNetTrunk::layer(int i, const torch::Tensor& x) { return layers_.at(i - 1)->forward(x); }

std::array<int64_t, 4> ResNetTrunk::out_channels() const {
  const int64_t e = cfg_.basic_block ? BasicBlockImpl::kExpansion : BottleneckImpl::kExpansion;
  return {64 * e, 128 * e, 256 * e, 512 * e};
}

std::vector<torch::Tensor> ResNetTrunk::forward(
    const torch::Tensor& x, const std::function<torch::Tensor(const std::string&, const torch::Tensor&)>* hook) {
  std::vector<torch::Tensor> outs;
  auto y = stem(x);
  for (int i = 1; i <= 4; ++i) {
    if (hook) y = (*hook)("layer" + std::to_string(i), y);
    outs.push_back(y = layer(i, y));
  }
  return outs;
}

ClassifierModuleImpl::ClassifierModuleImpl(int64_t in, const std::vector<int64_t>& dilations, int64_t num_classes) {
  // [dlv2] ClassifierModule: 3x3 convs with bias, padding = dilation, weights
  // initialised N(0, 0.01).
  for (auto d : dilations) {
    auto conv = torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, num_classes, 3).padding(d).dilation(d).bias(true));
    torch::NoGradGuard g;
    conv->weight.normal_(0, 0.01);
    conv2d_list_->push_back(conv);
  }
  register_module("conv2d_list", conv2d_list_);
}

torch::Tensor ClassifierModuleImpl::forward(const torch::Tensor& x) {
  // [dlv2] the sum of all branches (out = conv0(x); out += conv_i(x)).
  torch::Tensor out;
  for (const auto& m : *conv2d_list_) {
    auto y = m->as<torch::nn::Conv2dImpl>()->forward(x);
    out = out.defined() ? out + y : y;
  }
  return out;
}

DeepLabV2Impl::DeepLabV2Impl(const DeepLabV2Config& cfg, const SegmentorOptions& opt)
    : SegmentorImpl(opt), cfg_(cfg) {
  num_classes_ = cfg.num_classes;
  trunk_ = ResNetTrunk(*this, cfg.resnet);
  // [dlv2] ResNetMulti registers layer5 (if multi_level) before layer6.
  if (cfg.multi_level)
    layer5_ = register_module("layer5", ClassifierModule(trunk_.out_channels()[2], cfg.dilations, cfg.num_classes));
  layer6_ = register_module("layer6", ClassifierModule(trunk_.out_channels()[3], cfg.dilations, cfg.num_classes));
}

SegmentorOutput DeepLabV2Impl::forward(const torch::Tensor& images) {
  SegmentorOutput out;
  auto x = trunk_.stem(images);
  x = trunk_.layer(1, x);
  out.features.push_back(x);
  x = trunk_.layer(2, x);
  out.features.push_back(x);
  x = trunk_.layer(3, x);
  out.features.push_back(x);
  if (layer5_) out.aux = layer5_->forward(x);  // [dlv2] on layer3 features
  x = trunk_.layer(4, x);
  out.features.push_back(x);
  out.logits = layer6_->forward(x);
  return out;
}

std::vector<torch::Tensor> DeepLabV2Impl::extract_features(const torch::Tensor& images) {
  return trunk_.forward(images);
}

std::vector<torch::Tensor> DeepLabV2Impl::head_parameters() {
  std::vector<torch::Tensor> ps;
  for (auto* m : {layer5_.get(), layer6_.get()})
    if (m)
      for (auto& p : m->parameters()) ps.push_back(p);
  return ps;
}

std::vector<torch::Tensor> DeepLabV2Impl::backbone_parameters() {
  std::vector<torch::Tensor> ps;
  for (const auto& item : named_parameters())
    if (item.key().rfind("layer5.", 0) != 0 && item.key().rfind("layer6.", 0) != 0) ps.push_back(item.value());
  return ps;
}

}  // namespace uda::models
