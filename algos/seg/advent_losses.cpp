#include "algos/seg/advent_losses.h"

#include "models/ops.h"

#include <torch/torch.h>

#include <stdexcept>
#include <string>

namespace uda::algos {

at::Tensor advent_entropy_loss(const at::Tensor& prob) {
  TORCH_CHECK(prob.dim() == 4, "advent_entropy_loss expects [N, C, H, W]");
  // loss.py entropy_loss divides the sum over all elements by n·h·w·log2(c):
  // prob_2_entropy already carries the 1/log2(c), so the sum over classes
  // averaged over pixels is the same number.
  const int64_t pixels = prob.size(0) * prob.size(2) * prob.size(3);
  return models::prob_2_entropy(prob).sum() / static_cast<double>(pixels);
}

at::Tensor advent_bce_loss(const at::Tensor& d_out, double domain_label) {
  // func.py bce_loss: a target tensor filled with the label, mean reduction.
  return torch::binary_cross_entropy_with_logits(d_out, torch::full_like(d_out, domain_label));
}

at::Tensor class_ratio_prior_loss(const at::Tensor& prob, const at::Tensor& source_ratio, double mu) {
  TORCH_CHECK(prob.dim() == 4, "class_ratio_prior_loss expects [N, C, H, W]");
  TORCH_CHECK(source_ratio.dim() == 1 && source_ratio.size(0) == prob.size(1),
              "class_ratio_prior_loss: source_ratio must hold one entry per class");
  // issue #9: p̄_x is the global average pool of the softmax map (a C-vector
  // per image); ReLU rather than |.| so that a class may be more frequent
  // on the target than on the source, only its disappearance is penalised.
  auto mean_prob = prob.mean({2, 3});                                         // [N, C]
  auto ps = source_ratio.to(prob.dtype()).to(prob.device()).unsqueeze(0);  // [1, C]
  return torch::relu(mu * ps - mean_prob).sum(1).mean();
}

std::vector<double> class_ratio_from_pixels(const std::vector<int64_t>& class_pixels, int64_t num_classes) {
  if (num_classes <= 0 || static_cast<int64_t>(class_pixels.size()) < num_classes)
    throw std::invalid_argument("class statistics hold " + std::to_string(class_pixels.size()) +
                                " classes, the model predicts " + std::to_string(num_classes));
  double total = 0.0;
  for (int64_t c = 0; c < num_classes; ++c) total += static_cast<double>(class_pixels[c]);
  if (total <= 0.0) throw std::invalid_argument("class statistics count no labelled pixel");
  std::vector<double> out(static_cast<size_t>(num_classes));
  for (int64_t c = 0; c < num_classes; ++c) out[c] = static_cast<double>(class_pixels[c]) / total;
  return out;
}

}  // namespace uda::algos
