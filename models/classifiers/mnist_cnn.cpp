// DomainBed MNIST_CNN. Source: DomainBed b93c22a domainbed/networks.py [db].
#include "models/classifiers/mnist_cnn.h"

#include <torch/torch.h>

#include "models/layers/fast_weights.h"

#include <algorithm>

namespace {
using nn_group_norm_ptr = torch::nn::GroupNormImpl*;
}

namespace uda::models {

MnistCnnImpl::MnistCnnImpl(const ClassifierConfig& cfg, bool asr_norm) : ClassifierImpl(cfg) {
  namespace nn = torch::nn;
  const auto names = layer_names();
  const auto& chosen = cfg.conv_layers.empty() ? default_conv_layers() : cfg.conv_layers;
  auto choice_of = [&](int i) {
    ConvChoice c = cfg.conv;
    if (std::find(chosen.begin(), chosen.end(), names[i]) == chosen.end()) c.type = ConvType::Static;
    return c;
  };
  // [db] MNIST_CNN.__init__ (:176-184): the convs first, then the GroupNorms
  // (the registration order is the state dict's and the order of the default
  // initialisation's draws).
  const std::array<nn::Conv2dOptions, 4> opts{nn::Conv2dOptions(cfg.in_channels, 64, 3).stride(1).padding(1),
                                              nn::Conv2dOptions(64, 128, 3).stride(2).padding(1),
                                              nn::Conv2dOptions(128, 128, 3).stride(1).padding(1),
                                              nn::Conv2dOptions(128, 128, 3).stride(1).padding(1)};
  for (int i = 0; i < 4; ++i) convs_[i] = ConvSlot(*this, names[i], opts[i], choice_of(i));
  const std::array<int64_t, 4> widths{64, 128, 128, 128};
  if (asr_norm) {
    for (int i = 0; i < 4; ++i) asr[i] = register_module("bn" + std::to_string(i), AsrNorm(widths[i]));
  } else {
    bn0 = register_module("bn0", nn::GroupNorm(8, widths[0]));
    bn1 = register_module("bn1", nn::GroupNorm(8, widths[1]));
    bn2 = register_module("bn2", nn::GroupNorm(8, widths[2]));
    bn3 = register_module("bn3", nn::GroupNorm(8, widths[3]));
  }
  for (int i = 0; i < 4; ++i)
    if (convs_[i].type() == ConvType::CondConv)
      routes_[i] = register_module("route" + std::to_string(i + 1),
                                   CondConvRouting(opts[i].in_channels(), cfg.conv.condconv_experts));
  register_head(kFeatures);
}

std::vector<std::pair<std::string, int64_t>> MnistCnnImpl::hook_points() const {
  return {{"conv1", config().in_channels}, {"conv2", 64}, {"conv3", 128}, {"conv4", 128}, {"fc", kFeatures}};
}

torch::Tensor MnistCnnImpl::featurize(const torch::Tensor& x, const ActivationHook* hook) {
  // [db] MNIST_CNN.forward (:189-208): conv -> ReLU -> GroupNorm, x4; avgpool; view(N, -1).
  // Layers through models/layers/fast_weights.h (meta-learning evaluates the
  // network at substituted parameters).
  auto ptr = [](torch::nn::GroupNorm& m) -> nn_group_norm_ptr { return m ? m.get() : nullptr; };
  const std::array<nn_group_norm_ptr, 4> norms{ptr(bn0), ptr(bn1), ptr(bn2), ptr(bn3)};
  const auto names = layer_names();
  torch::Tensor y = x;
  for (int i = 0; i < 4; ++i) {
    if (hook) y = (*hook)(names[i], y);
    const auto routing = routes_[i] ? routes_[i]->forward(y) : torch::Tensor();
    y = torch::relu(convs_[i].forward(y, routing));
    y = asr[i] ? asr[i]->forward(y) : group_norm(*norms[i], y);
  }
  return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
}

}  // namespace uda::models
