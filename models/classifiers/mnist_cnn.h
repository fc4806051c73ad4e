// DomainBed's MNIST_CNN featurizer (domainbed/networks.py:165-208, b93c22a)
// with a classifier head: four 3x3 convs (64, 128 stride 2, 128, 128), each
// followed by ReLU then GroupNorm(8, channels) (normalisation after the
// activation), global average pool, 128-d features. Keys as DomainBed's
// module: conv1..conv4, bn0..bn3 (GroupNorm), then the head `fc`. PyTorch
// default initialisation; no BatchNorm and no dropout of its own, so its
// train and eval modes compute the same (model.dropout aside).
//
// Any of conv1..conv4 can be a dynamic or CondConv convolution
// (ClassifierConfig::conv, default conv2..conv4: conv1 sees the raw image);
// a CondConv layer is its own block, routed from its own input (keys
// convN.weight [E, ...] and routeN.fc.*). Hook points: conv1..conv4, fc.
//
// With `asr_norm` (model.norm = asr_norm) each GroupNorm is replaced, at
// its place after the ReLU, by an ASR-Norm layer (models/layers/asr_norm.h;
// Fan et al. CVPR 2021 put ASR-Norm where the network normalises), under
// the same keys bn0..bn3.
#pragma once

#include <torch/nn/modules/normalization.h>

#include <array>

#include "models/classifiers/classifier.h"
#include "models/layers/asr_norm.h"

namespace uda::models {

class MnistCnnImpl : public ClassifierImpl {
 public:
  explicit MnistCnnImpl(const ClassifierConfig& cfg, bool asr_norm = false);
  static constexpr int64_t kFeatures = 128;  // [db] MNIST_CNN.n_outputs
  static std::vector<std::string> layer_names() { return {"conv1", "conv2", "conv3", "conv4"}; }
  static std::vector<std::string> default_conv_layers() { return {"conv2", "conv3", "conv4"}; }
  std::vector<std::pair<std::string, int64_t>> hook_points() const override;

  torch::nn::GroupNorm bn0{nullptr}, bn1{nullptr}, bn2{nullptr}, bn3{nullptr};  // DomainBed's
  std::array<AsrNorm, 4> asr{AsrNorm{nullptr}, AsrNorm{nullptr}, AsrNorm{nullptr},
                             AsrNorm{nullptr}};  // model.norm = asr_norm instead

 protected:
  torch::Tensor featurize(const torch::Tensor& x, const ActivationHook* hook) override;

 private:
  std::array<ConvSlot, 4> convs_;
  std::array<CondConvRouting, 4> routes_{CondConvRouting{nullptr}, CondConvRouting{nullptr},
                                         CondConvRouting{nullptr}, CondConvRouting{nullptr}};
};

}  // namespace uda::models
