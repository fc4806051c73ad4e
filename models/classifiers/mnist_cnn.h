// DomainBed's MNIST_CNN featurizer (domainbed/networks.py:165-208, b93c22a)
// with a classifier head: four 3x3 convs (64, 128 stride 2, 128, 128), each
// followed by ReLU then GroupNorm(8, channels) (normalisation after the
// activation), global average pool, 128-d features. Keys as DomainBed's
// module: conv1..conv4, bn0..bn3 (GroupNorm), then the head `fc`. PyTorch
// default initialisation; no BatchNorm and no dropout of its own, so its
// train and eval modes compute the same (model.dropout aside).
#pragma once

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include "models/classifiers/classifier.h"

namespace uda::models {

class MnistCnnImpl : public ClassifierImpl {
 public:
  explicit MnistCnnImpl(const ClassifierConfig& cfg);
  static constexpr int64_t kFeatures = 128;  // [db] MNIST_CNN.n_outputs

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  torch::nn::GroupNorm bn0{nullptr}, bn1{nullptr}, bn2{nullptr}, bn3{nullptr};

 protected:
  torch::Tensor featurize(const torch::Tensor& x) override;
};

}  // namespace uda::models
