// PixelDA's losses, as the official code computes them
// (tensorflow/models research/domain_adaptation/pixel_domain_adaptation/
// pixelda_losses.py, "[pl]"; the TF library functions it calls are cited
// where their reduction matters). Golden values: scripts/make_pixelda_golden.py,
// tests/algos/pixelda_losses_test.cpp.
#pragma once

#include <ATen/core/Tensor.h>

namespace uda::algos::gan {

// tf.contrib.losses.mean_pairwise_squared_error(predictions, labels) per
// sample ([pl] _transferred_similarity_loss 'mpse'): with d = predictions -
// labels over the n elements of a sample,
//   2 * sum(d^2) / n - 2 * (sum d)^2 / n^2,
// i.e. the mean over pairs (i, j) of ((p_i - p_j) - (l_i - l_j))^2 / 2 over
// ordered pairs. [N, ...] -> [N]. The TF function then SUMS the samples
// (its _scale_losses), it does not average them: see pixelda.cpp.
at::Tensor pairwise_squared_error_per_sample(const at::Tensor& predictions, const at::Tensor& labels);

// [pl] masked_mpse: both tensors multiplied by the mask labels[:, 3] < 0.99
// (the fourth channel is a depth map, 1 = background) before the pairwise
// error; n still counts every element. Needs 4 channels (std::invalid_argument).
at::Tensor masked_pairwise_squared_error_per_sample(const at::Tensor& predictions, const at::Tensor& labels);

// tf.losses.sigmoid_cross_entropy with a scalar weight: the mean over the
// logits of the binary cross-entropy against a constant label (0 or 1),
// [pl] add_domain_classifier_losses (transferred -> 0, target -> 1) and
// g_step_loss (transferred -> 1).
at::Tensor sigmoid_cross_entropy_mean(const at::Tensor& logits, double label);

}  // namespace uda::algos::gan
