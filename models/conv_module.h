// mmcv 1.3.7 / mmseg bricks used by the decode heads, with official child names:
//  - ConvModule (cnn/bricks/conv_module.py): `conv` -> `bn` -> ReLU, conv
//    bias only when there is no norm (bias='auto').
//  - DepthwiseSeparableConvModule (cnn/bricks/depthwise_separable_conv_module.py):
//    `depthwise_conv` (a ConvModule with groups = in_channels) then
//    `pointwise_conv` (1x1 ConvModule), both with the same norm and activation.
//  - MLP (mmseg segformer_head.py / daformer_head.py): tokens of an NCHW map
//    through Linear `proj`; returns (B, H*W, C).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace uda::models {

struct ConvModuleOptions {
  int64_t in = 0, out = 0, kernel = 1, padding = 0, dilation = 1, groups = 1, stride = 1;
  bool norm = true;  // BatchNorm2d (eps 1e-5, momentum 0.1) named `bn`
  bool relu = true;
};

class ConvModuleImpl : public torch::nn::Module {
 public:
  explicit ConvModuleImpl(const ConvModuleOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  bool relu_;
};
TORCH_MODULE(ConvModule);

class DepthwiseSeparableConvModuleImpl : public torch::nn::Module {
 public:
  // kernel/padding/dilation apply to the depthwise conv.
  DepthwiseSeparableConvModuleImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding, int64_t dilation,
                                   bool norm = true, bool relu = true);
  torch::Tensor forward(const torch::Tensor& x);
  ConvModule depthwise_conv{nullptr}, pointwise_conv{nullptr};
};
TORCH_MODULE(DepthwiseSeparableConvModule);

class MLPEmbedImpl : public torch::nn::Module {
 public:
  MLPEmbedImpl(int64_t in, int64_t out);
  // (B, C, H, W) -> (B, H*W, out)
  torch::Tensor forward(const torch::Tensor& x);
  // (B, C, H, W) -> (B, out, H, W), the permute+reshape the heads apply.
  torch::Tensor forward_map(const torch::Tensor& x);
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(MLPEmbed);

}  // namespace uda::models
