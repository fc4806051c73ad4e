// The interface of a feature extractor used by EncoderDecoder: images in,
// one feature map per stage out (NCHW, strides 4, 8, 16, 32 for MiT).
#pragma once

#include <torch/nn/module.h>

#include <vector>

namespace uda::models {

class BackboneImpl : public torch::nn::Module {
 public:
  virtual std::vector<torch::Tensor> forward(const torch::Tensor& images) = 0;
  // Channels of each returned stage, in order.
  virtual std::vector<int64_t> out_channels() const = 0;
};

// The interface of a decode head: stage features in, logits at the head's
// own resolution out.
class DecodeHeadImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const std::vector<torch::Tensor>& features) = 0;
  virtual int64_t num_classes() const = 0;
};

}  // namespace uda::models
