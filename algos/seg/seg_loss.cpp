#include "algos/seg/seg_loss.h"

#include <torch/torch.h>

namespace uda::algos {

namespace F = torch::nn::functional;

at::Tensor resize_logits(const at::Tensor& logits, int64_t h, int64_t w, bool align_corners) {
  if (logits.size(2) == h && logits.size(3) == w) return logits;
  return F::interpolate(logits, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{h, w})
                                    .mode(torch::kBilinear)
                                    .align_corners(align_corners));
}

at::Tensor seg_cross_entropy(const at::Tensor& logits, const at::Tensor& labels, bool align_corners,
                             const at::Tensor& pixel_weight) {
  auto l = resize_logits(logits, labels.size(-2), labels.size(-1), align_corners);
  auto target = labels.to(torch::kLong);
  if (!pixel_weight.defined())
    return F::cross_entropy(l, target, F::CrossEntropyFuncOptions().ignore_index(255));
  // mmseg weight_reduce_loss with reduction 'mean': sum(w * loss) / numel,
  // where ignored pixels contribute 0 (their loss is 0) but count in numel,
  // as in DACS (mmseg cross_entropy with weight and avg_factor None).
  auto per_pixel = F::cross_entropy(l, target, F::CrossEntropyFuncOptions().ignore_index(255).reduction(torch::kNone));
  return (per_pixel * pixel_weight).mean();
}

LossSum seg_cross_entropy_sum(const at::Tensor& logits, const at::Tensor& labels, bool align_corners) {
  auto l = resize_logits(logits, labels.size(-2), labels.size(-1), align_corners);
  auto target = labels.to(torch::kLong);
  LossSum r;
  r.sum = F::cross_entropy(l, target, F::CrossEntropyFuncOptions().ignore_index(255).reduction(torch::kSum));
  r.count = static_cast<double>((target != 255).sum().item<int64_t>());
  return r;
}

}  // namespace uda::algos
