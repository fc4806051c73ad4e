// Input-conditioned convolutions: a convolution whose kernel is a per-sample
// mixture of K expert kernels, computed for the whole batch at once.
//
//  - DynamicConv2d (Chen et al., "Dynamic Convolution: Attention over
//    Convolution Kernels", CVPR 2020; official PyTorch code
//    kaijieshi7/Dynamic-convolution-Pytorch 4befa50 dynamic_conv.py
//    attention2d / Dynamic_conv2d [dy]): attention
//      pi(x) = softmax(fc2(relu(fc1(GAP(x)))) / tau)         [N, K]
//    over K kernels (and biases), fc1 C -> hidden without bias, fc2 hidden -> K
//    with bias, both 1x1 convolutions as in [dy] (keys attention.fc1.weight,
//    attention.fc2.weight/bias, weight [K, O, I/g, kh, kw], bias [K, O]).
//    The temperature tau is a buffer (attention.temperature, checkpointed)
//    that set_iteration() moves along the paper's schedule (sec. 3.2 / 4.1:
//    tau from 30 down to 1 linearly over the first epochs, then 1).
//  - CondConv2d (Yang et al., "CondConv: Conditionally Parameterized
//    Convolutions for Efficient Inference", NeurIPS 2019; official TF code
//    tensorflow/tpu models/official/efficientnet/condconv/condconv_layers.py
//    CondConv2D [cc]): the kernel is sum_e r_e(x) W_e with routing weights
//    r given from outside (CondConvRouting: sigmoid(FC(GAP(block input))),
//    computed once per block and shared by the block's convolutions,
//    efficientnet_model.py MBConvBlock.call). Each expert is initialised
//    independently ([cc] get_condconv_initializer).
//
// Both aggregate the kernels per sample ([N, O, I/g, kh, kw]) and run ONE
// grouped convolution over the batch folded into the channels (groups =
// N * g), as [dy] Dynamic_conv2d.forward does; [cc] loops over the samples,
// which computes the same (tests/models/dynamic_conv_test.cpp).
//
// Parameters are fetched through models/layers/fast_weights.h, so the layers
// can be evaluated at substituted parameters (MLDG, MetaAlign).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

#include "models/layers/iteration_schedule.h"

namespace uda::models {

// One sample-specific kernel per row: x [N, C, H, W], weight [N, O, C/g, kh,
// kw], bias [N, O] or undefined; one grouped convolution over the batch.
torch::Tensor per_sample_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                const torch::nn::Conv2dOptions& options);

// The temperature schedule of Dynamic Convolution: tau(iter) = start -
// (start - 1) * iter / iters for iter < iters, then 1 (iters 0: always 1).
double dynamic_conv_temperature(int64_t iter, double start, int64_t iters);

struct DynamicConvOptions {
  int64_t experts = 4;              // K ([dy] K=4; the paper's default)
  double reduction = 0.25;          // hidden = int(C * reduction) + 1 ([dy] ratio 0.25; C == 3: hidden = K)
  double temperature_start = 30.0;  // paper sec. 4.1: tau from 30 ...
  int64_t temperature_iters = 1000; // ... to 1 over these iterations (the paper: the first 10 epochs)
};

class DynamicConv2dImpl : public torch::nn::Module, public IterationScheduled {
 public:
  // `conv`: the static convolution this replaces (channels, kernel, stride,
  // padding, dilation, groups, bias); padding must be given as numbers.
  DynamicConv2dImpl(const torch::nn::Conv2dOptions& conv, const DynamicConvOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  // pi(x): [N, K], rows summing to 1, at the current temperature.
  torch::Tensor attention(const torch::Tensor& x);
  void set_iteration(int64_t iter) override;
  double temperature() const;
  void set_temperature(double tau);
  const torch::nn::Conv2dOptions& conv_options() const { return conv_; }
  const DynamicConvOptions& options() const { return opt_; }

  torch::Tensor weight;  // [K, O, I/g, kh, kw]
  torch::Tensor bias;    // [K, O], undefined without bias

 private:
  torch::nn::Conv2dOptions conv_;
  DynamicConvOptions opt_;
  std::shared_ptr<torch::nn::Module> attention_;  // `attention`: fc1, fc2, temperature
  torch::nn::Conv2d fc1_{nullptr}, fc2_{nullptr};
  torch::Tensor temperature_;
};
TORCH_MODULE(DynamicConv2d);

// CondConv's routing function: r = sigmoid(fc(GAP(x))) [N, E] ([cc]
// MBConvBlock: tf.layers.Dense(num_experts, activation=sigmoid) on the
// average-pooled block input). Key: fc.weight, fc.bias.
class CondConvRoutingImpl : public torch::nn::Module {
 public:
  CondConvRoutingImpl(int64_t in_channels, int64_t experts);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(CondConvRouting);

class CondConv2dImpl : public torch::nn::Module {
 public:
  CondConv2dImpl(const torch::nn::Conv2dOptions& conv, int64_t experts);
  // routing: [N, E] (CondConvRouting of the block's input).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& routing);
  int64_t experts() const { return experts_; }
  const torch::nn::Conv2dOptions& conv_options() const { return conv_; }

  torch::Tensor weight;  // [E, O, I/g, kh, kw]
  torch::Tensor bias;    // [E, O], undefined without bias

 private:
  torch::nn::Conv2dOptions conv_;
  int64_t experts_;
};
TORCH_MODULE(CondConv2d);

// ---------------------------------------------------------------------------
// Which convolution a network's layer is (config model.conv.*, builder.cpp).
enum class ConvType { Static, Dynamic, CondConv };

struct ConvChoice {
  ConvType type = ConvType::Static;
  DynamicConvOptions dynamic;
  int64_t condconv_experts = 4;  // [cc] efficientnet-condconv-b0-4e / -8e: 4 or 8
};

// One convolution of a network, registered on `owner` under `name` as a
// torch Conv2d (static: the official keys, name.weight/.bias), a
// DynamicConv2d or a CondConv2d. CondConv's routing comes from the caller
// (the block's CondConvRouting); the others ignore it.
class ConvSlot {
 public:
  ConvSlot() = default;
  ConvSlot(torch::nn::Module& owner, const std::string& name, const torch::nn::Conv2dOptions& conv,
           const ConvChoice& choice);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& routing = {});
  ConvType type() const { return type_; }
  // The static convolution (nullptr unless type() is Static).
  const torch::nn::Conv2d& as_static() const { return static_; }

 private:
  ConvType type_ = ConvType::Static;
  torch::nn::Conv2d static_{nullptr};
  DynamicConv2d dynamic_{nullptr};
  CondConv2d condconv_{nullptr};
};

}  // namespace uda::models
