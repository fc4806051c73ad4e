// Segmentation losses shared by the algorithms.
#pragma once

#include <ATen/core/Tensor.h>

namespace uda::algos {

// mmseg decode-head loss: logits resized bilinearly to the label size
// (align_corners as the head's), then cross-entropy averaged over pixels
// whose label is not 255 (mmseg BaseDecodeHead.losses + CrossEntropyLoss).
// `pixel_weight` (optional, [N,H,W]) multiplies each pixel's loss before the
// mean over all non-ignored pixels, as DACS's weighted pseudo-label loss.
at::Tensor seg_cross_entropy(const at::Tensor& logits, const at::Tensor& labels, bool align_corners = false,
                             const at::Tensor& pixel_weight = {});

// The same cross-entropy as its sum over non-ignored pixels and their number,
// for the mean over the valid pixels of the global batch
// (TrainContext::global_mean): the count differs between ranks, so the mean
// of the ranks' means would not be the global one.
struct LossSum {
  at::Tensor sum;
  double count = 0;
};
LossSum seg_cross_entropy_sum(const at::Tensor& logits, const at::Tensor& labels, bool align_corners = false);

// Bilinear resize of logits to (h, w).
at::Tensor resize_logits(const at::Tensor& logits, int64_t h, int64_t w, bool align_corners);

}  // namespace uda::algos
