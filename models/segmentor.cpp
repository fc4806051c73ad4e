// Segmentor inference modes, EncoderDecoder, tensor ops and performance
// switches. Sources: DAFormer e6f6e04 mmseg/models/segmentors/encoder_decoder.py
// [encdec] and mmseg/ops/wrappers.py [resize]; ADVENT 3e58d45
// advent/utils/func.py [func] and advent/dataset/base_dataset.py [base].
#include "models/segmentor.h"

#include <torch/torch.h>
#include <ATen/autocast_mode.h>

#include <cmath>

#include "models/ops.h"
#include "models/performance.h"

namespace uda::models {
namespace F = torch::nn::functional;

// ---- ops ---------------------------------------------------------------

at::Tensor normalize_rgb(const at::Tensor& images, const std::array<double, 3>& mean,
                         const std::array<double, 3>& std) {
  auto opts = images.options();
  auto m = torch::tensor({mean[0], mean[1], mean[2]}, opts.dtype(torch::kFloat64)).to(opts).view({1, 3, 1, 1});
  auto s = torch::tensor({std[0], std[1], std[2]}, opts.dtype(torch::kFloat64)).to(opts).view({1, 3, 1, 1});
  return (images - m) / s;
}

at::Tensor advent_preprocess(const at::Tensor& images_rgb, const std::array<double, 3>& mean_bgr) {
  auto bgr = images_rgb.flip({1});  // [base] image[:, :, ::-1] on HWC = channel flip
  auto opts = images_rgb.options();
  auto m = torch::tensor({mean_bgr[0], mean_bgr[1], mean_bgr[2]}, opts.dtype(torch::kFloat64))
               .to(opts)
               .view({1, 3, 1, 1});
  return bgr - m;
}

at::Tensor prob_2_entropy(const at::Tensor& prob) {
  // [func] -torch.mul(prob, torch.log2(prob + 1e-30)) / np.log2(c)
  const double c = static_cast<double>(prob.size(1));
  return -torch::mul(prob, torch::log2(prob + 1e-30)) / std::log2(c);
}

at::Tensor resize_bilinear(const at::Tensor& x, int64_t h, int64_t w, bool align_corners) {
  return F::interpolate(
      x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(align_corners));
}

// ---- performance -------------------------------------------------------

void to_channels_last(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto& b : m.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(at::MemoryFormat::ChannelsLast));
}

at::Tensor channels_last(const at::Tensor& x) {
  return x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

AutocastScope::AutocastScope(c10::DeviceType device, c10::ScalarType dtype, bool enabled)
    : device_(device), enabled_(enabled) {
  if (!enabled_) return;
  if (device_ == c10::DeviceType::CUDA) {
    prev_enabled_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
  } else {
    prev_enabled_ = at::autocast::is_cpu_enabled();
    prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (device_ == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(prev_enabled_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
  } else {
    at::autocast::set_cpu_enabled(prev_enabled_);
    at::autocast::set_autocast_cpu_dtype(prev_dtype_);
  }
}

// ---- Segmentor ---------------------------------------------------------

torch::Tensor SegmentorImpl::encode_decode(const torch::Tensor& images) {
  // [encdec] encode_decode: head logits resized to the input size.
  auto logits = forward(images).logits;
  return resize_bilinear(logits, images.size(2), images.size(3), opt_.align_corners);
}

torch::Tensor SegmentorImpl::predict(const torch::Tensor& images) {
  return opt_.test_mode == TestMode::Slide ? slide_inference(images) : encode_decode(images);
}

torch::Tensor SegmentorImpl::slide_inference(const torch::Tensor& images) {
  // [encdec] slide_inference: a grid of crops, the last one of each row and
  // column aligned to the border; logits summed and divided by the count.
  const int64_t h_img = images.size(2), w_img = images.size(3);
  const int64_t h_crop = opt_.crop[0], w_crop = opt_.crop[1];
  const int64_t h_stride = opt_.stride[0], w_stride = opt_.stride[1];
  const int64_t h_grids = std::max<int64_t>(h_img - h_crop + h_stride - 1, 0) / h_stride + 1;
  const int64_t w_grids = std::max<int64_t>(w_img - w_crop + w_stride - 1, 0) / w_stride + 1;
  torch::Tensor preds, count = torch::zeros({images.size(0), 1, h_img, w_img}, images.options());
  using torch::indexing::Slice;
  for (int64_t hi = 0; hi < h_grids; ++hi) {
    for (int64_t wi = 0; wi < w_grids; ++wi) {
      int64_t y1 = hi * h_stride, x1 = wi * w_stride;
      const int64_t y2 = std::min(y1 + h_crop, h_img), x2 = std::min(x1 + w_crop, w_img);
      y1 = std::max<int64_t>(y2 - h_crop, 0);
      x1 = std::max<int64_t>(x2 - w_crop, 0);
      auto crop = images.index({Slice(), Slice(), Slice(y1, y2), Slice(x1, x2)});
      auto logits = encode_decode(crop);
      if (!preds.defined()) preds = torch::zeros({images.size(0), logits.size(1), h_img, w_img}, logits.options());
      preds.index({Slice(), Slice(), Slice(y1, y2), Slice(x1, x2)}).add_(logits);
      count.index({Slice(), Slice(), Slice(y1, y2), Slice(x1, x2)}).add_(1);
    }
  }
  return preds / count.to(preds.scalar_type());
}

EncoderDecoderImpl::EncoderDecoderImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<DecodeHeadImpl> head,
                                       const SegmentorOptions& opt)
    : SegmentorImpl(opt) {
  backbone_ = register_module("backbone", std::move(backbone));
  head_ = register_module("decode_head", std::move(head));
  num_classes_ = head_->num_classes();
}

SegmentorOutput EncoderDecoderImpl::forward(const torch::Tensor& images) {
  SegmentorOutput out;
  out.features = backbone_->forward(images);
  out.logits = head_->forward(out.features);
  return out;
}

std::vector<torch::Tensor> EncoderDecoderImpl::extract_features(const torch::Tensor& images) {
  return backbone_->forward(images);
}

std::vector<torch::Tensor> EncoderDecoderImpl::backbone_parameters() { return backbone_->parameters(); }
std::vector<torch::Tensor> EncoderDecoderImpl::head_parameters() { return head_->parameters(); }

}  // namespace uda::models
