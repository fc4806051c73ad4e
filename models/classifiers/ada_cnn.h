// The digits network of ADA and M-ADA: conv 5x5 64 (valid) - ReLU - max
// pool 2 - conv 5x5 128 (valid) - ReLU - max pool 2 - flatten - fc1 1024 -
// ReLU - fc2 1024 - ReLU, features = fc2's output (the penultimate layer φ
// of the max phase), then the head `fc`. Sources: ricvolpi/generalize-
// unseen-domains model.py:14-30 (TensorFlow, encoder; return_feat gives
// fc2), joffery/M-ADA models/ada_conv.py:5-29 (PyTorch ConvNet, the same
// layers; fc3 there = `fc` here). The official inputs are 32x32 (flatten
// 128*5*5); uda's Fashion-MNIST domains are 28x28 (flatten 128*4*4): the
// flatten size follows model.image_size. PyTorch default initialisation.
// Layers through models/layers/fast_weights.h (M-ADA's meta step).
// With model.norm = asr_norm, an ASR-Norm layer (models/layers/asr_norm.h)
// follows each conv, before its ReLU (norm1, norm2): the ASR-Norm paper's
// digits setting (Fan et al. CVPR 2021, Sec. 4.1: the normalization after
// the convolutions of the ADA ConvNet).
#pragma once

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/classifiers/classifier.h"
#include "models/layers/asr_norm.h"

namespace uda::models {

class AdaCnnImpl : public ClassifierImpl {
 public:
  AdaCnnImpl(const ClassifierConfig& cfg, int64_t image_size, bool asr_norm = false);
  static constexpr int64_t kFeatures = 1024;

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  AsrNorm norm1{nullptr}, norm2{nullptr};  // model.norm = asr_norm

  // conv1, conv2, fc1 (the flattened maps), fc2, fc.
  std::vector<std::pair<std::string, int64_t>> hook_points() const override;

 protected:
  torch::Tensor featurize(const torch::Tensor& x, const ActivationHook* hook) override;

 private:
  int64_t image_size_;
};

}  // namespace uda::models
