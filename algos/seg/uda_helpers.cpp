// Line references: DAFormer mmseg/utils/utils.py [utils] and
// mmseg/models/uda/dacs.py [dacs] (github.com/lhoyer/DAFormer).
#include "algos/seg/uda_helpers.h"

#include <torch/torch.h>

#include <limits>
#include <stdexcept>
#include <string>

namespace uda::algos {

namespace F = torch::nn::functional;

at::Tensor downscale_label_ratio(const at::Tensor& gt, int64_t scale_factor, double min_ratio, int64_t n_classes,
                                 int64_t ignore_index) {
  if (scale_factor <= 1) throw std::invalid_argument("downscale_label_ratio: scale_factor must be > 1");
  if (gt.dim() != 4 || gt.size(1) != 1) throw std::invalid_argument("downscale_label_ratio: gt must be [N,1,H,W]");
  // [utils] ignore is substituted by an extra class n_classes so that it can
  // win the majority vote, then turned back into ignore.
  auto out = gt.to(torch::kLong).clone();
  out.masked_fill_(out == ignore_index, n_classes);
  auto onehot = F::one_hot(out.squeeze(1), n_classes + 1).permute({0, 3, 1, 2}).to(torch::kFloat);
  // [utils] avg_pool2d(kernel_size=scale_factor): stride = kernel, floor.
  auto ratio = F::avg_pool2d(onehot, F::AvgPool2dFuncOptions(scale_factor));
  // torch.max over classes: first maximum wins ties.
  auto [gt_ratio, label] = ratio.max(1, /*keepdim=*/true);
  label.masked_fill_(label == n_classes, ignore_index);
  // [utils] strictly below min_ratio becomes ignore (== min_ratio is kept).
  label.masked_fill_(gt_ratio < min_ratio, ignore_index);
  return label;
}

at::Tensor pixel_feature_distance(const at::Tensor& f1, const at::Tensor& f2) {
  // [dacs] masked_feat_dist: torch.norm(f1 - f2, dim=1, p=2).
  return at::norm(f1 - f2, 2, {1});
}

FeatureDistance thing_class_feature_distance(const at::Tensor& feat, const at::Tensor& feat_imnet,
                                             const at::Tensor& gt, const std::vector<int64_t>& classes,
                                             double min_ratio, int64_t n_classes, double lambda,
                                             EmptyFeatureDistance empty) {
  FeatureDistance r;
  auto dist = pixel_feature_distance(feat, feat_imnet);  // [N, h, w]
  at::Tensor selected;
  if (classes.empty()) {
    // [dacs] calc_feat_dist with imnet_feature_dist_classes None: all pixels.
    selected = dist.reshape({-1});
  } else {
    auto g = gt.dim() == 3 ? gt.unsqueeze(1) : gt;
    // [dacs] calc_feat_dist: scale_factor = gt.shape[-1] // feat.shape[-1].
    const int64_t scale = g.size(-1) / feat.size(-1);
    r.gt_rescaled = downscale_label_ratio(g, scale, min_ratio, n_classes, 255);
    auto cls = torch::tensor(classes, torch::kLong).to(r.gt_rescaled.device());
    r.mask = (r.gt_rescaled.unsqueeze(-1) == cls).any(-1);  // [N, 1, h, w]
    selected = dist.masked_select(r.mask.squeeze(1));
  }
  r.selected = selected.numel();
  r.sum = lambda * selected.sum();
  if (r.selected == 0 && empty == EmptyFeatureDistance::Zero) {
    // uda's choice (docs/ALGORITHMS.md): no thing pixel, no loss. The
    // official torch.mean of an empty selection is NaN, which would poison
    // the step (and, with nan_policy=stop, end the run).
    r.loss = torch::zeros({}, feat.options());
    return r;
  }
  r.loss = lambda * selected.mean();
  return r;
}

PseudoLabels pseudo_labels_from_logits(const at::Tensor& teacher_logits, double threshold, int64_t ignore_top,
                                       int64_t ignore_bottom, const std::function<double(double)>& global_sum) {
  PseudoLabels r;
  // [dacs] forward_train "Generate pseudo-label": softmax over classes, max/argmax.
  auto soft = torch::softmax(teacher_logits.detach(), 1);
  std::tie(r.prob, r.label) = soft.max(1);
  // prob.ge(threshold): the threshold is compared in the tensor's dtype.
  double large = static_cast<double>(r.prob.ge(threshold).sum().item<int64_t>());
  double total = static_cast<double>(r.label.numel());
  if (global_sum) large = global_sum(large), total = global_sum(total);
  r.weight_scalar = large / total;
  r.weight = torch::full(r.prob.sizes(), r.weight_scalar, r.prob.options());
  const int64_t h = r.weight.size(1);
  // [dacs] pseudo_weight[:, :top, :] = 0 and pseudo_weight[:, -bottom:, :] = 0
  // (Python slices clamp to the map).
  if (ignore_top > 0) r.weight.slice(1, 0, std::min(ignore_top, h)).zero_();
  if (ignore_bottom > 0) r.weight.slice(1, std::max<int64_t>(h - ignore_bottom, 0), h).zero_();
  return r;
}

}  // namespace uda::algos
