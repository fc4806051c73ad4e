// A ResNet normalization layer that is BatchNorm2d (torchvision's and
// ADVENT's, the default) or ASR-Norm (model.norm = asr_norm;
// models/layers/asr_norm.h; Fan et al. CVPR 2021 replace the network's
// BatchNorms), registered on its owner under one key (bn1, ...), so that
// the ResNet code says "normalise here" once for both.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>

#include <string>

#include "models/layers/asr_norm.h"

namespace uda::models {

class NormSlot {
 public:
  NormSlot() = default;
  NormSlot(torch::nn::Module& owner, const std::string& name, int64_t channels, bool asr_norm);
  // BatchNorm through models/sync_batch_norm.h (synchronised when enabled,
  // fast weights honoured), or the ASR layer.
  torch::Tensor forward(const torch::Tensor& x);

  // Appends the layer to a container (a downsample's Sequential) instead of
  // registering it: BatchNorm2d or AsrNorm.
  static void append(torch::nn::Sequential& seq, int64_t channels, bool asr_norm);
  // Runs such a module (BatchNorm2d or AsrNorm).
  static torch::Tensor run(torch::nn::Module& norm, const torch::Tensor& x);

 private:
  std::shared_ptr<torch::nn::Module> module_;  // BatchNorm2d or AsrNorm
};

}  // namespace uda::models
