#include "models/layers/norm_slot.h"

#include <torch/torch.h>

#include <stdexcept>

#include "models/sync_batch_norm.h"

namespace uda::models {

NormSlot::NormSlot(torch::nn::Module& owner, const std::string& name, int64_t channels, bool asr_norm) {
  if (asr_norm)
    module_ = owner.register_module(name, AsrNorm(channels));
  else
    module_ = owner.register_module(name, torch::nn::BatchNorm2d(channels));
}

torch::Tensor NormSlot::forward(const torch::Tensor& x) { return run(*module_, x); }

void NormSlot::append(torch::nn::Sequential& seq, int64_t channels, bool asr_norm) {
  if (asr_norm)
    seq->push_back(AsrNorm(channels));
  else
    seq->push_back(torch::nn::BatchNorm2d(channels));
}

torch::Tensor NormSlot::run(torch::nn::Module& norm, const torch::Tensor& x) {
  if (auto* bn = norm.as<torch::nn::BatchNorm2dImpl>()) return batch_norm(*bn, x);
  if (auto* asr = norm.as<AsrNormImpl>()) return asr->forward(x);
  throw std::logic_error("NormSlot::run: neither BatchNorm2d nor AsrNorm");
}

}  // namespace uda::models
