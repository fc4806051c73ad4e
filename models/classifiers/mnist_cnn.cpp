// DomainBed MNIST_CNN. Source: DomainBed b93c22a domainbed/networks.py [db].
#include "models/classifiers/mnist_cnn.h"

#include <torch/torch.h>

#include "models/layers/fast_weights.h"

namespace uda::models {

MnistCnnImpl::MnistCnnImpl(const ClassifierConfig& cfg) : ClassifierImpl(cfg) {
  namespace nn = torch::nn;
  // [db] MNIST_CNN.__init__ (:176-184): the convs first, then the GroupNorms
  // (the registration order is the state dict's and the order of the default
  // initialisation's draws).
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(cfg.in_channels, 64, 3).stride(1).padding(1)));
  conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(64, 128, 3).stride(2).padding(1)));
  conv3 = register_module("conv3", nn::Conv2d(nn::Conv2dOptions(128, 128, 3).stride(1).padding(1)));
  conv4 = register_module("conv4", nn::Conv2d(nn::Conv2dOptions(128, 128, 3).stride(1).padding(1)));
  bn0 = register_module("bn0", nn::GroupNorm(8, 64));
  bn1 = register_module("bn1", nn::GroupNorm(8, 128));
  bn2 = register_module("bn2", nn::GroupNorm(8, 128));
  bn3 = register_module("bn3", nn::GroupNorm(8, 128));
  register_head(kFeatures);
}

torch::Tensor MnistCnnImpl::featurize(const torch::Tensor& x) {
  // [db] MNIST_CNN.forward (:189-208): conv -> ReLU -> GroupNorm, x4; avgpool; view(N, -1).
  // Layers through models/layers/fast_weights.h (meta-learning evaluates the
  // network at substituted parameters).
  auto y = group_norm(*bn0, torch::relu(conv2d(*conv1, x)));
  y = group_norm(*bn1, torch::relu(conv2d(*conv2, y)));
  y = group_norm(*bn2, torch::relu(conv2d(*conv3, y)));
  y = group_norm(*bn3, torch::relu(conv2d(*conv4, y)));
  return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
}

}  // namespace uda::models
