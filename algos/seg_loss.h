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

// Bilinear resize of logits to (h, w).
at::Tensor resize_logits(const at::Tensor& logits, int64_t h, int64_t w, bool align_corners);

}  // namespace uda::algos
