// ADA / M-ADA digits ConvNet (see ada_cnn.h for the sources).
#include "models/classifiers/ada_cnn.h"

#include <torch/torch.h>

#include <stdexcept>

#include "models/layers/fast_weights.h"

namespace uda::models {

namespace {
// Side after conv5 (valid) - pool 2 - conv5 (valid) - pool 2.
int64_t pooled_side(int64_t s) { return ((s - 4) / 2 - 4) / 2; }
}  // namespace

AdaCnnImpl::AdaCnnImpl(const ClassifierConfig& cfg, int64_t image_size, bool asr_norm)
    : ClassifierImpl(cfg), image_size_(image_size) {
  namespace nn = torch::nn;
  const int64_t side = pooled_side(image_size);
  if (side < 1) throw std::invalid_argument("ada_cnn needs images of at least 16x16");
  // M-ADA ada_conv.py:8-17 (registration order = state-dict order).
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(cfg.in_channels, 64, 5)));
  conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(64, 128, 5)));
  fc1 = register_module("fc1", nn::Linear(128 * side * side, 1024));
  fc2 = register_module("fc2", nn::Linear(1024, 1024));
  if (asr_norm) {
    norm1 = register_module("norm1", AsrNorm(64));
    norm2 = register_module("norm2", AsrNorm(128));
  }
  register_head(kFeatures);
}

std::vector<std::pair<std::string, int64_t>> AdaCnnImpl::hook_points() const {
  const int64_t side = pooled_side(image_size_);
  return {{"conv1", config().in_channels}, {"conv2", 64}, {"fc1", 128 * side * side}, {"fc2", kFeatures},
          {"fc", kFeatures}};
}

torch::Tensor AdaCnnImpl::featurize(const torch::Tensor& x, const ActivationHook* hook) {
  if (x.size(-1) != image_size_ || x.size(-2) != image_size_)
    throw std::invalid_argument("ada_cnn was built for " + std::to_string(image_size_) + "x" +
                                std::to_string(image_size_) + " images (model.image_size)");
  auto at = [hook](const char* point, const torch::Tensor& t) { return hook ? (*hook)(point, t) : t; };
  // M-ADA ada_conv.py:19-29: mp(relu(conv)) twice, flatten, relu(fc1), relu(fc2).
  auto y = conv2d(*conv1, at("conv1", x));
  if (norm1) y = norm1->forward(y);
  y = torch::max_pool2d(torch::relu(y), 2);
  y = conv2d(*conv2, at("conv2", y));
  if (norm2) y = norm2->forward(y);
  y = torch::max_pool2d(torch::relu(y), 2);
  y = y.flatten(1);
  y = torch::relu(linear(*fc1, at("fc1", y)));
  return torch::relu(linear(*fc2, at("fc2", y)));
}

}  // namespace uda::models
