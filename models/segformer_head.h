// SegFormer MLP decode head (DAFormer mmseg/models/decode_heads/segformer_head.py,
// e6f6e04) with its key names: linear_c.<i>.proj, linear_fuse.{conv,bn},
// linear_pred, and the unused conv_seg that mmseg's BaseDecodeHead creates
// (present in official checkpoints, so it is registered too).
#pragma once

#include <vector>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/backbone.h"
#include "models/conv_module.h"

namespace uda::models {

struct SegFormerHeadConfig {
  std::vector<int64_t> in_channels;
  int64_t embed_dim = 256;        // decoder_params.embed_dim
  int64_t channels = 128;         // decode_head.channels (only sizes conv_seg)
  int64_t conv_kernel_size = 1;   // decoder_params.conv_kernel_size
  int64_t num_classes = 19;
  double dropout_ratio = 0.1;
};

class SegFormerHeadImpl : public DecodeHeadImpl {
 public:
  explicit SegFormerHeadImpl(const SegFormerHeadConfig& cfg);
  torch::Tensor forward(const std::vector<torch::Tensor>& features) override;
  int64_t num_classes() const override { return cfg_.num_classes; }

 private:
  SegFormerHeadConfig cfg_;
  std::vector<MLPEmbed> linear_c_;
  ConvModule linear_fuse_{nullptr};
  torch::nn::Conv2d linear_pred_{nullptr}, conv_seg_{nullptr};
};

}  // namespace uda::models
