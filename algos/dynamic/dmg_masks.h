// Domain-specific masks of DMG (Chattopadhyay, Balaji & Hoffman, "Learning
// to Balance Specificity and Invariance for In and Out of Domain
// Generalization", ECCV 2020; official code prithv1/DMG 6b162b4
// models/supermasks.py SuperMask [dmg]) as functions of tensors, so that the
// unit tests compare them with the official module
// (tests/fixtures/dynamic/golden.json, scripts/make_dynamic_golden.py).
//
// A masked point holds one logit vector per source domain, [D, C]; the
// mask probabilities are p = sigmoid(logits).
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace uda::algos::dynamic {

// The masks' parameters: per point (name, channels) a logit matrix
// [domains, channels], registered under the point's name. Initialised as
// [dmg] init_setting "random_uniform" (torch.rand, SuperMask :29-35) or
// "scalar" (every logit = init_scalar, :36-43).
class DomainMasksImpl : public torch::nn::Module {
 public:
  DomainMasksImpl(const std::vector<std::pair<std::string, int64_t>>& points, int64_t domains,
                  const std::string& init, double init_scalar);
  const std::vector<std::string>& points() const { return names_; }
  torch::Tensor& logits(const std::string& point);

 private:
  std::vector<std::string> names_;
  std::vector<torch::Tensor> logits_;
};
TORCH_MODULE(DomainMasks);

// [dmg] overlap_penalty (:122-134): the mean over domain pairs (i < j) of the
// soft IoU (sum p_i p_j + 1e-6) / (sum (p_i + p_j - p_i p_j) + 1e-6), of the
// probabilities probs [D, C]. 0 for a single domain.
torch::Tensor soft_overlap(const torch::Tensor& probs);

// [dmg] SuperMask.forward "sample" (:49-61): a straight-through Bernoulli
// mask, hard - p (no gradient) + p, with hard = 1 where uniform < p.
// probs and uniform: [N, C] (each row its sample's domain's probabilities
// and its own draws).
torch::Tensor straight_through_mask(const torch::Tensor& probs, const torch::Tensor& uniform);
// "greedy" (:62-73): hard = p > 0.5, with the same straight-through form.
torch::Tensor greedy_mask(const torch::Tensor& probs);

// activation * mask, the mask [N, C] broadcast over the spatial dims of an
// [N, C, H, W] activation ([dmg] conv_mode, :54-59) or applied to [N, C].
torch::Tensor apply_mask(const torch::Tensor& activation, const torch::Tensor& mask);

}  // namespace uda::algos::dynamic
