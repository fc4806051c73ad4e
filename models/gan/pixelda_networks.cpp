#include "models/gan/pixelda_networks.h"

#include "models/layers/sample_randomness.h"
#include "models/sync_batch_norm.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace uda::models::gan {

namespace F = torch::nn::functional;

namespace {

// TF 'SAME': out = ceil(n / stride).
int64_t same_out(int64_t n, int64_t stride) { return (n + stride - 1) / stride; }

// N(0, 1) per sample inside the batch's SampleKeyScope: Box-Muller on two
// per-sample uniform draws, so the noise of a sample does not depend on the
// rank or row that computes it.
torch::Tensor sample_normal(const torch::Tensor& like) {
  auto u1 = sample_uniform(like.sizes(), like.options());
  auto u2 = sample_uniform(like.sizes(), like.options());
  // 1 - u1 lies in (0, 1]: the logarithm stays finite.
  return torch::sqrt(-2.0 * torch::log1p(-u1)) * torch::cos(2.0 * M_PI * u2);
}

}  // namespace

SameConv2dImpl::SameConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias)
    : kernel_(kernel), stride_(stride) {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).bias(bias)));
}

torch::Tensor SameConv2dImpl::forward(const torch::Tensor& x) {
  // TF's SAME padding (tf.nn.conv2d): total = max((out - 1) * s + k - n, 0),
  // the smaller half before, the larger after.
  auto pads = [&](int64_t n) {
    const int64_t total = std::max<int64_t>((same_out(n, stride_) - 1) * stride_ + kernel_ - n, 0);
    return std::pair<int64_t, int64_t>{total / 2, total - total / 2};
  };
  const auto [top, bottom] = pads(x.size(2));
  const auto [left, right] = pads(x.size(3));
  if (top == bottom && left == right && top == left) {
    if (top == 0) return conv->forward(x);
    return F::conv2d(x, conv->weight, F::Conv2dFuncOptions().bias(conv->bias).stride(stride_).padding(top));
  }
  return conv->forward(F::pad(x, F::PadFuncOptions({left, right, top, bottom})));
}

SlimBatchNormImpl::SlimBatchNormImpl(int64_t channels, double decay, double epsilon) {
  // TF's moving average keeps decay * old + (1 - decay) * batch: torch's
  // momentum is 1 - decay.
  bn = register_module(
      "bn", torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(channels).eps(epsilon).momentum(1.0 - decay).affine(false)));
  beta = register_parameter("beta", torch::zeros({channels}));
}

torch::Tensor SlimBatchNormImpl::forward(const torch::Tensor& x) {
  if (x.dim() == 2) {
    auto y = batch_norm(*bn, x.view({x.size(0), x.size(1), 1, 1}));
    return y.view({x.size(0), x.size(1)}) + beta.view({1, -1});
  }
  return batch_norm(*bn, x) + beta.view({1, -1, 1, 1});
}

PixelDaGeneratorImpl::PixelDaGeneratorImpl(const PixelDaOptions& o) : o_(o) {
  if (o.noise_dims < 1) throw std::invalid_argument("PixelDaGenerator: noise_dims must be at least 1");
  const int64_t plane = o.height * o.width;
  // [pm] project_latent_vars: fully_connected(noise, H*W, relu, batch_norm)
  // -> no bias (slim drops it under a normalizer).
  noise_fc = register_module("noise_fc", torch::nn::Linear(torch::nn::LinearOptions(o.noise_dims, plane).bias(false)));
  noise_bn = register_module("noise_bn", SlimBatchNorm(plane, o.batch_norm_decay, o.batch_norm_epsilon));
  const int64_t k = o.generator_kernel_size, f = o.resnet_filters;
  // [pm] resnet_stack: the first conv has no normalizer (a bias) and ReLU.
  conv_in = register_module("conv_in", SameConv2d(o.channels + 1, f, k, 1, true));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t b = 0; b < o.resnet_blocks; ++b) {
    blocks->push_back(SameConv2d(f, f, k, 1, false));
    blocks->push_back(SlimBatchNorm(f, o.batch_norm_decay, o.batch_norm_epsilon));
    blocks->push_back(SameConv2d(f, f, k, 1, false));
    blocks->push_back(SlimBatchNorm(f, o.batch_norm_decay, o.batch_norm_epsilon));
  }
  // [pm] resnet_stack conv_out: 1x1, no normalizer, tanh.
  conv_out = register_module("conv_out", SameConv2d(f, o.channels, 1, 1, true));
}

torch::Tensor PixelDaGeneratorImpl::forward(const torch::Tensor& source, const torch::Tensor& z) {
  const int64_t n = source.size(0);
  auto plane = torch::relu(noise_bn->forward(noise_fc->forward(z))).view({n, 1, o_.height, o_.width});
  // [pm] resnet_generator: tf.concat([images, noise_channel], 3): noise last.
  auto x = torch::relu(conv_in->forward(torch::cat({source, plane}, 1)));
  for (size_t b = 0; b + 3 < blocks->size(); b += 4) {
    auto y = torch::relu(blocks[b + 1]->as<SlimBatchNormImpl>()->forward(blocks[b]->as<SameConv2dImpl>()->forward(x)));
    y = blocks[b + 3]->as<SlimBatchNormImpl>()->forward(blocks[b + 2]->as<SameConv2dImpl>()->forward(y));
    x = o_.resnet_residuals ? y + x : y;  // [pm] resnet_block: no activation after the sum
  }
  return torch::tanh(conv_out->forward(x));
}

PixelDaDiscriminatorImpl::PixelDaDiscriminatorImpl(const PixelDaOptions& o) : o_(o) {
  const int64_t k = o.discriminator_kernel_size;
  conv1 = register_module("conv1", SameConv2d(o.channels, o.num_discriminator_filters, k,
                                              o.discriminator_first_stride, true));
  convs = register_module("convs", torch::nn::ModuleList());
  norms = register_module("norms", torch::nn::ModuleList());
  int64_t h = same_out(o.height, o.discriminator_first_stride), w = same_out(o.width, o.discriminator_first_stride);
  int64_t in = o.num_discriminator_filters;
  // [pm] predict_domain: while height > projection_shape_size, a block of
  // conv_block_size - 1 stride-1 convolutions and one stride-2 convolution,
  // int(filters * factor^(block_id - 1)) filters, block_id from 2.
  for (int64_t block_id = 2; h > o.projection_shape_size; ++block_id) {
    const auto f = static_cast<int64_t>(static_cast<double>(o.num_discriminator_filters) *
                                        std::pow(o.discriminator_filter_factor, static_cast<double>(block_id - 1)));
    for (int64_t c = 1; c < o.discriminator_conv_block_size; ++c) {
      convs->push_back(SameConv2d(in, f, k, 1, false));
      norms->push_back(SlimBatchNorm(f, o.batch_norm_decay, o.batch_norm_epsilon));
      in = f;
    }
    convs->push_back(SameConv2d(in, f, k, 2, false));
    norms->push_back(SlimBatchNorm(f, o.batch_norm_decay, o.batch_norm_epsilon));
    in = f;
    h = same_out(h, 2);
    w = same_out(w, 2);
    stages_.push_back(std::max<int64_t>(o.discriminator_conv_block_size, 1));
  }
  fc_logit_out = register_module("fc_logit_out", torch::nn::Linear(in * h * w, 1));
}

torch::Tensor PixelDaDiscriminatorImpl::add_noise(const torch::Tensor& x, bool dropout) const {
  // [pm] add_noise: slim.dropout(keep_prob) for hidden layers, then
  // hidden + N(0, discriminator_noise_stddev).
  auto y = dropout ? sample_dropout(x, 1.0 - o_.discriminator_dropout_keep_prob, is_training()) : x;
  if (o_.discriminator_noise_stddev == 0) return y;
  return y + o_.discriminator_noise_stddev * sample_normal(y);
}

torch::Tensor PixelDaDiscriminatorImpl::forward(const torch::Tensor& images) {
  const double slope = o_.lrelu_leakiness;
  auto x = o_.discriminator_image_noise ? add_noise(images, false) : images;
  x = add_noise(F::leaky_relu(conv1->forward(x), F::LeakyReLUFuncOptions().negative_slope(slope)), true);
  size_t layer = 0;
  for (int64_t n : stages_) {
    for (int64_t c = 0; c < n; ++c, ++layer)
      x = F::leaky_relu(norms[layer]->as<SlimBatchNormImpl>()->forward(convs[layer]->as<SameConv2dImpl>()->forward(x)),
                        F::LeakyReLUFuncOptions().negative_slope(slope));
    x = add_noise(x, true);
  }
  return fc_logit_out->forward(x.flatten(1)).view({-1});
}

PixelDaTaskTowerImpl::PixelDaTaskTowerImpl(const PixelDaOptions& o) {
  source_conv1 = register_module("source_conv1", SameConv2d(o.channels, 32, 5, 1, true));
  transferred_conv1 = register_module("transferred_conv1", SameConv2d(o.channels, 32, 5, 1, true));
  conv2 = register_module("conv2", SameConv2d(32, 48, 5, 1, true));
  // slim.max_pool2d([2, 2], 2): 'VALID', floor.
  const int64_t h = o.height / 2 / 2, w = o.width / 2 / 2;
  if (h < 1 || w < 1) throw std::invalid_argument("PixelDaTaskTower: images smaller than 4x4");
  fc3 = register_module("fc3", torch::nn::Linear(48 * h * w, 100));
  fc4 = register_module("fc4", torch::nn::Linear(100, 100));
  fc5 = register_module("fc5", torch::nn::Linear(100, o.num_classes));
}

torch::Tensor PixelDaTaskTowerImpl::forward(const torch::Tensor& images, Input input) {
  auto& first = input == Input::Source ? source_conv1 : transferred_conv1;
  auto x = F::max_pool2d(torch::relu(first->forward(images)), F::MaxPool2dFuncOptions(2).stride(2));
  x = F::max_pool2d(torch::relu(conv2->forward(x)), F::MaxPool2dFuncOptions(2).stride(2));
  x = torch::relu(fc3->forward(x.flatten(1)));
  x = torch::relu(fc4->forward(x));
  return fc5->forward(x);
}

void init_pixelda_weights(torch::nn::Module& module, double std) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* c = m->as<torch::nn::Conv2dImpl>()) {
      c->weight.normal_(0.0, std);
      if (c->bias.defined()) c->bias.zero_();
    } else if (auto* l = m->as<torch::nn::LinearImpl>()) {
      l->weight.normal_(0.0, std);
      if (l->bias.defined()) l->bias.zero_();
    }
  }
}

}  // namespace uda::models::gan
