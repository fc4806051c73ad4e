#include "algos/gan/pixelda_losses.h"

#include <torch/torch.h>

#include <stdexcept>

namespace uda::algos::gan {

at::Tensor pairwise_squared_error_per_sample(const at::Tensor& predictions, const at::Tensor& labels) {
  // tensorflow/contrib/losses/python/losses/loss_ops.py
  // mean_pairwise_squared_error: term1 = 2 * sum_sq / num_present_per_batch,
  // term2 = 2 * sum^2 / num_present_per_batch^2 (scalar weight: every
  // element is present).
  auto d = (predictions - labels).flatten(1);
  const double n = static_cast<double>(d.size(1));
  return 2.0 * d.square().sum(1) / n - 2.0 * d.sum(1).square() / (n * n);
}

at::Tensor masked_pairwise_squared_error_per_sample(const at::Tensor& predictions, const at::Tensor& labels) {
  if (labels.dim() != 4 || labels.size(1) != 4 || predictions.sizes() != labels.sizes())
    throw std::invalid_argument("masked pairwise squared error: needs [N, 4, H, W] images (RGB + depth)");
  // [pl] masked_mpse: mask = labels[..., 3:4] < 0.99, tiled over the 4 channels.
  auto mask = labels.narrow(1, 3, 1).lt(0.99).to(labels.scalar_type());
  return pairwise_squared_error_per_sample(predictions * mask, labels * mask);
}

at::Tensor sigmoid_cross_entropy_mean(const at::Tensor& logits, double label) {
  // tf.nn.sigmoid_cross_entropy_with_logits = max(x, 0) - x z + log(1 + exp(-|x|)),
  // which binary_cross_entropy_with_logits also computes stably; the weighted
  // mean of compute_weighted_loss with weight 1 is the plain mean.
  return torch::nn::functional::binary_cross_entropy_with_logits(logits, torch::full_like(logits, label));
}

}  // namespace uda::algos::gan
