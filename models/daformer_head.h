// DAFormer decode head (DAFormer mmseg/models/decode_heads/daformer_head.py,
// e6f6e04) as built by configs/_base_/models/daformer_sepaspp_mitb5.py, with
// mmseg key names: embed_layers.<i>.proj, fuse_layer.{image_pool.1,
// aspp_modules.<j>.{conv,bn | depthwise_conv.*,pointwise_conv.*},bottleneck},
// conv_seg.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/backbone.h"
#include "models/conv_module.h"

namespace uda::models {

struct DAFormerHeadConfig {
  std::vector<int64_t> in_channels;  // per level, e.g. MiT embed dims
  int64_t channels = 256;            // fused width (decode_head.channels)
  int64_t embed_dims = 256;          // per-level linear embedding width
  int64_t num_classes = 19;
  double dropout_ratio = 0.1;        // Dropout2d before conv_seg
  bool align_corners = false;        // DAFormerHead asserts False
  // Fusion: "aspp" (ASPPWrapper, the sepaspp config) or "conv" (daformer_conv1:
  // one ConvModule with kernel fusion_kernel).
  std::string fusion = "aspp";
  bool sep = true;                   // depthwise-separable ASPP branches
  std::vector<int64_t> dilations{1, 6, 12, 18};
  bool pool = false;                 // image-pooling branch
  int64_t fusion_kernel = 1;
};

// mmseg ASPPWrapper (daformer_head.py): optional image pooling, ASPP branches
// (1x1 for dilation 1, else 3x3 dilated, depthwise-separable when sep),
// concatenation, 3x3 bottleneck ConvModule.
class ASPPWrapperImpl : public torch::nn::Module {
 public:
  ASPPWrapperImpl(int64_t in, int64_t channels, bool sep, const std::vector<int64_t>& dilations, bool pool,
                  bool align_corners);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential image_pool_{nullptr};
  torch::nn::ModuleList aspp_modules_;
  ConvModule bottleneck_{nullptr};
  bool align_corners_;
};
TORCH_MODULE(ASPPWrapper);

class DAFormerHeadImpl : public DecodeHeadImpl {
 public:
  explicit DAFormerHeadImpl(const DAFormerHeadConfig& cfg);
  // Logits at the resolution of features[0] (1/4 of the input for MiT).
  torch::Tensor forward(const std::vector<torch::Tensor>& features) override;
  int64_t num_classes() const override { return cfg_.num_classes; }

 private:
  DAFormerHeadConfig cfg_;
  std::vector<MLPEmbed> embeds_;
  ASPPWrapper aspp_{nullptr};
  ConvModule fuse_conv_{nullptr};
  torch::nn::Conv2d conv_seg_{nullptr};
};

}  // namespace uda::models
