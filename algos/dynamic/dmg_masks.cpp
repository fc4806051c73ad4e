// DMG's masks. Source: prithv1/DMG 6b162b4 models/supermasks.py [dmg].
#include "algos/dynamic/dmg_masks.h"

#include <torch/torch.h>

#include <stdexcept>

namespace uda::algos::dynamic {

DomainMasksImpl::DomainMasksImpl(const std::vector<std::pair<std::string, int64_t>>& points, int64_t domains,
                                 const std::string& init, double init_scalar) {
  for (const auto& [name, channels] : points) {
    torch::Tensor t;
    if (init == "random_uniform") t = torch::rand({domains, channels});  // [dmg] :29-35
    else if (init == "scalar") t = torch::full({domains, channels}, init_scalar);  // [dmg] :36-43
    else throw std::invalid_argument("DomainMasks: unknown init " + init);
    names_.push_back(name);
    logits_.push_back(register_parameter(name, t));
  }
}

torch::Tensor& DomainMasksImpl::logits(const std::string& point) {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == point) return logits_[i];
  throw std::out_of_range("DomainMasks: no point " + point);
}

torch::Tensor soft_overlap(const torch::Tensor& probs) {
  constexpr double kSmooth = 1e-6;  // [dmg] SMOOTH
  const int64_t d = probs.size(0);
  if (d < 2) return probs.sum() * 0;
  torch::Tensor total;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i + 1; j < d; ++j) {
      const auto a = probs[i], b = probs[j];
      const auto inter = (a * b).sum();
      const auto uni = (a + b - a * b).sum();
      const auto iou = (inter + kSmooth) / (uni + kSmooth);
      total = total.defined() ? total + iou : iou;
    }
  return total / static_cast<double>(d * (d - 1) / 2);
}

torch::Tensor straight_through_mask(const torch::Tensor& probs, const torch::Tensor& uniform) {
  const auto hard = (uniform < probs).to(probs.dtype());
  return (hard - probs).detach() + probs;
}

torch::Tensor greedy_mask(const torch::Tensor& probs) {
  const auto hard = (probs > 0.5).to(probs.dtype());
  return (hard - probs).detach() + probs;
}

torch::Tensor apply_mask(const torch::Tensor& activation, const torch::Tensor& mask) {
  if (activation.dim() == 4) return activation * mask.view({mask.size(0), mask.size(1), 1, 1});
  return activation * mask;
}

}  // namespace uda::algos::dynamic
