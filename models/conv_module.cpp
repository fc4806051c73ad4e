#include "models/conv_module.h"

#include "models/sync_batch_norm.h"

#include <torch/torch.h>

namespace uda::models {

ConvModuleImpl::ConvModuleImpl(const ConvModuleOptions& o) : relu_(o.relu) {
  // mmcv ConvModule bias='auto': a conv followed by a norm has no bias.
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in, o.out, o.kernel)
                                                       .stride(o.stride)
                                                       .padding(o.padding)
                                                       .dilation(o.dilation)
                                                       .groups(o.groups)
                                                       .bias(!o.norm)));
  // mmcv build_norm_layer names BatchNorm "bn"; eps/momentum are PyTorch's defaults.
  if (o.norm) bn = register_module("bn", torch::nn::BatchNorm2d(o.out));
}

torch::Tensor ConvModuleImpl::forward(const torch::Tensor& x) {
  auto y = conv->forward(x);  // order ('conv', 'norm', 'act')
  if (bn) y = batch_norm(*bn, y);
  if (relu_) y = torch::relu(y);
  return y;
}

DepthwiseSeparableConvModuleImpl::DepthwiseSeparableConvModuleImpl(int64_t in, int64_t out, int64_t kernel,
                                                                   int64_t padding, int64_t dilation, bool norm,
                                                                   bool relu) {
  ConvModuleOptions dw;
  dw.in = in, dw.out = in, dw.kernel = kernel, dw.padding = padding, dw.dilation = dilation, dw.groups = in;
  dw.norm = norm, dw.relu = relu;
  depthwise_conv = register_module("depthwise_conv", ConvModule(dw));
  ConvModuleOptions pw;
  pw.in = in, pw.out = out, pw.kernel = 1, pw.norm = norm, pw.relu = relu;
  pointwise_conv = register_module("pointwise_conv", ConvModule(pw));
}

torch::Tensor DepthwiseSeparableConvModuleImpl::forward(const torch::Tensor& x) {
  return pointwise_conv->forward(depthwise_conv->forward(x));
}

MLPEmbedImpl::MLPEmbedImpl(int64_t in, int64_t out) : proj(register_module("proj", torch::nn::Linear(in, out))) {}

torch::Tensor MLPEmbedImpl::forward(const torch::Tensor& x) {
  return proj->forward(x.flatten(2).transpose(1, 2).contiguous());
}

torch::Tensor MLPEmbedImpl::forward_map(const torch::Tensor& x) {
  return forward(x).permute({0, 2, 1}).contiguous().reshape({x.size(0), -1, x.size(2), x.size(3)});
}

}  // namespace uda::models
