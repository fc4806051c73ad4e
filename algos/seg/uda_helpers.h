// Tensor helpers of DACS/DAFormer's self-training losses: label down-scaling
// with a majority rule, the thing-class ImageNet feature distance and the
// confidence-weighted pseudo-labels of the EMA teacher.
//
// Official sources (DAFormer, github.com/lhoyer/DAFormer):
//   mmseg/utils/utils.py           downscale_label_ratio
//   mmseg/models/uda/dacs.py       masked_feat_dist, calc_feat_dist,
//                                  forward_train (pseudo-label weight)
// Checked against the parity set's golden.h5 (tests/fixtures/parity;
// /helpers/downscale, /helpers/fd, /helpers/pseudo_weight) in
// tests/algos/uda_helpers_test.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

#include <cstdint>
#include <vector>

namespace uda::algos {

// gt: int64 [N, 1, H, W] (ignore_index = ignored). Each scale_factor^2 cell
// gets its majority class; 255 where the majority is ignore or covers less
// than min_ratio of the cell. Returns int64 [N, 1, H / s, W / s].
at::Tensor downscale_label_ratio(const at::Tensor& gt, int64_t scale_factor, double min_ratio, int64_t n_classes,
                                 int64_t ignore_index = 255);

// Per-pixel L2 distance over channels of two [N, C, h, w] maps: [N, h, w].
at::Tensor pixel_feature_distance(const at::Tensor& f1, const at::Tensor& f2);

// What uda does when no pixel is selected (no thing class in the crop): the
// official mean over an empty selection is NaN.
enum class EmptyFeatureDistance { Zero, NaN };

struct FeatureDistance {
  at::Tensor loss;          // lambda * mean masked distance (0-d, differentiable w.r.t. feat)
  at::Tensor sum;           // lambda * sum of the masked distances (for a mean over the global batch)
  at::Tensor gt_rescaled;   // int64 [N, 1, h, w] (defined when classes are given)
  at::Tensor mask;          // bool  [N, 1, h, w] (defined when classes are given)
  int64_t selected = 0;     // number of pixels averaged
};

// DACS.calc_feat_dist on given features: the last stage's distance to the
// frozen ImageNet features, restricted to pixels whose down-scaled source
// label is one of `classes` (all pixels when `classes` is empty).
// gt: int64 [N, 1, H, W] or [N, H, W]; scale factor = W // feature width.
FeatureDistance thing_class_feature_distance(const at::Tensor& feat, const at::Tensor& feat_imnet,
                                             const at::Tensor& gt, const std::vector<int64_t>& classes,
                                             double min_ratio, int64_t n_classes, double lambda,
                                             EmptyFeatureDistance empty = EmptyFeatureDistance::Zero);

struct PseudoLabels {
  at::Tensor prob;      // float [N, H, W]: max softmax probability
  at::Tensor label;     // int64 [N, H, W]: argmax class
  at::Tensor weight;    // float [N, H, W]: the batch's confidence scalar, rows cropped to 0
  double weight_scalar = 0.0;  // fraction of the batch's pixels with prob >= threshold
};

// The teacher's pseudo-labels and their weight as DACS.forward_train computes
// them: ONE scalar for the whole batch, the fraction of pixels whose
// confidence reaches `threshold` (compared in float32), written to every
// pixel; then the first `ignore_top` and last `ignore_bottom` rows of every
// map are set to 0 (DAFormer's pseudo-label crop). The official batch is one
// GPU's; `global_sum` (TrainContext::global_sum) makes it the global batch of
// all ranks, so that W ranks x b weight as one rank x W*b. Without it, the
// local batch.
PseudoLabels pseudo_labels_from_logits(const at::Tensor& teacher_logits, double threshold, int64_t ignore_top,
                                       int64_t ignore_bottom,
                                       const std::function<double(double)>& global_sum = nullptr);

}  // namespace uda::algos
