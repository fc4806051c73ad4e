// Dynamic Convolution and CondConv. Sources:
//   [dy] kaijieshi7/Dynamic-convolution-Pytorch 4befa50 dynamic_conv.py
//        (attention2d :100-139, Dynamic_conv2d :141-190)
//   [cc] tensorflow/tpu models/official/efficientnet/condconv/condconv_layers.py
//        (get_condconv_initializer, CondConv2D.build/call)
#include "models/layers/dynamic_conv.h"

#include <torch/nn/functional/conv.h>
#include <torch/nn/functional/linear.h>
#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "models/layers/fast_weights.h"

namespace uda::models {

void set_training_iteration(torch::nn::Module& module, int64_t iter) {
  if (auto* s = dynamic_cast<IterationScheduled*>(&module)) s->set_iteration(iter);
  for (const auto& m : module.modules(/*include_self=*/false))
    if (auto* s = dynamic_cast<IterationScheduled*>(m.get())) s->set_iteration(iter);
}

torch::Tensor per_sample_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                const torch::nn::Conv2dOptions& o) {
  // [dy] Dynamic_conv2d.forward (:183-200): the batch folded into the
  // channels, [1, N*C, H, W], and the N kernels stacked along the output
  // channels, groups = g * N: sample n only sees kernel n.
  const int64_t n = x.size(0);
  const auto w = weight.reshape({n * weight.size(1), weight.size(2), weight.size(3), weight.size(4)});
  const auto b = bias.defined() ? bias.reshape({-1}) : torch::Tensor();
  auto y = torch::nn::functional::detail::conv2d(x.reshape({1, n * x.size(1), x.size(2), x.size(3)}), w, b,
                                                 o.stride(), o.padding(), o.dilation(), o.groups() * n);
  return y.view({n, weight.size(1), y.size(2), y.size(3)});
}

double dynamic_conv_temperature(int64_t iter, double start, int64_t iters) {
  if (iters <= 0 || iter >= iters) return 1.0;
  return start - (start - 1.0) * static_cast<double>(std::max<int64_t>(iter, 0)) / static_cast<double>(iters);
}

namespace {

void check_conv(const torch::nn::Conv2dOptions& o, const char* what) {
  if (torch::enumtype::get_enum_name(o.padding_mode()) != "kZeros")
    throw std::invalid_argument(std::string(what) + ": only zero padding is supported");
  if (o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0)
    throw std::invalid_argument(std::string(what) + ": channels not divisible by groups");
}

std::vector<int64_t> expert_shape(int64_t experts, const torch::nn::Conv2dOptions& o) {
  return {experts, o.out_channels(), o.in_channels() / o.groups(), (*o.kernel_size())[0], (*o.kernel_size())[1]};
}

// sum_k a[n, k] p[k, ...]: [N, ...] (torch.mm(attention, weight.view(K, -1)) of [dy]).
torch::Tensor mix(const torch::Tensor& a, const torch::Tensor& p) {
  auto shape = p.sizes().vec();
  shape[0] = a.size(0);
  return torch::mm(a, p.reshape({p.size(0), -1})).view(shape);
}

}  // namespace

DynamicConv2dImpl::DynamicConv2dImpl(const torch::nn::Conv2dOptions& conv, const DynamicConvOptions& opt)
    : conv_(conv), opt_(opt) {
  check_conv(conv, "DynamicConv2d");
  if (opt.experts < 1) throw std::invalid_argument("DynamicConv2d: at least one kernel");
  namespace nn = torch::nn;
  const int64_t c = conv.in_channels(), k = opt.experts;
  // [dy] attention2d.__init__ (:101-114): hidden = int(C * ratio) + 1, or K
  // for a 3-channel (image) input.
  const int64_t hidden = c != 3 ? static_cast<int64_t>(static_cast<double>(c) * opt.reduction) + 1 : k;
  attention_ = register_module("attention", std::make_shared<nn::Module>());
  fc1_ = attention_->register_module("fc1", nn::Conv2d(nn::Conv2dOptions(c, hidden, 1).bias(false)));
  fc2_ = attention_->register_module("fc2", nn::Conv2d(nn::Conv2dOptions(hidden, k, 1).bias(true)));
  temperature_ = attention_->register_buffer(
      "temperature", torch::full({}, dynamic_conv_temperature(0, opt.temperature_start, opt.temperature_iters),
                                 torch::kFloat));
  weight = register_parameter("weight", torch::empty(expert_shape(k, conv)));
  if (conv.bias()) bias = register_parameter("bias", torch::zeros({k, conv.out_channels()}));
  torch::NoGradGuard no_grad;
  // [dy] attention2d._initialize_weights (:116-125): kaiming_normal_
  // (fan_out, relu), biases 0.
  for (auto* m : {fc1_.get(), fc2_.get()}) {
    nn::init::kaiming_normal_(m->weight, 0.0, torch::kFanOut, torch::kReLU);
    if (m->bias.defined()) m->bias.zero_();
  }
  // [dy] Dynamic_conv2d._initialize_weights (:172-174): kaiming_uniform_ on
  // each kernel separately (fan_in of one kernel); biases 0 (:165).
  for (int64_t i = 0; i < k; ++i) nn::init::kaiming_uniform_(weight[i]);
}

double DynamicConv2dImpl::temperature() const { return temperature_.item<double>(); }

void DynamicConv2dImpl::set_temperature(double tau) {
  torch::NoGradGuard no_grad;
  temperature_.fill_(tau);
}

void DynamicConv2dImpl::set_iteration(int64_t iter) {
  set_temperature(dynamic_conv_temperature(iter, opt_.temperature_start, opt_.temperature_iters));
}

torch::Tensor DynamicConv2dImpl::attention(const torch::Tensor& x) {
  // [dy] attention2d.forward (:134-139): avgpool, fc1, relu, fc2, softmax(./T).
  auto a = torch::adaptive_avg_pool2d(x, {1, 1});
  a = torch::relu(conv2d(*fc1_, a));
  a = conv2d(*fc2_, a).view({x.size(0), -1});
  return torch::softmax(a / temperature_.to(a.dtype()), 1);
}

torch::Tensor DynamicConv2dImpl::forward(const torch::Tensor& x) {
  const auto pi = attention(x);
  // [dy] :187-193: aggregate_weight = pi @ W, aggregate_bias = pi @ b.
  const auto w = mix(pi, fast_weight(weight));
  const auto b = bias.defined() ? mix(pi, fast_weight(bias)) : torch::Tensor();
  return per_sample_conv2d(x, w, b, conv_);
}

CondConvRoutingImpl::CondConvRoutingImpl(int64_t in_channels, int64_t experts) {
  if (experts < 1) throw std::invalid_argument("CondConvRouting: at least one expert");
  fc_ = register_module("fc", torch::nn::Linear(in_channels, experts));
}

torch::Tensor CondConvRoutingImpl::forward(const torch::Tensor& x) {
  // [cc] MBConvBlock.call: routing_weights = Dense(E, sigmoid)(avg_pool(inputs)).
  return torch::sigmoid(linear(*fc_, torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1)));
}

CondConv2dImpl::CondConv2dImpl(const torch::nn::Conv2dOptions& conv, int64_t experts)
    : conv_(conv), experts_(experts) {
  check_conv(conv, "CondConv2d");
  if (experts < 1) throw std::invalid_argument("CondConv2d: at least one expert");  // [cc] __init__
  weight = register_parameter("weight", torch::empty(expert_shape(experts, conv)));
  if (conv.bias()) bias = register_parameter("bias", torch::empty({experts, conv.out_channels()}));
  // [cc] get_condconv_initializer: each expert drawn by the layer's own
  // initialiser, independently. The initialiser here is PyTorch's Conv2d
  // default (kaiming_uniform_(a = sqrt(5)), bias U(-1/sqrt(fan_in),
  // 1/sqrt(fan_in))), so that one expert initialises as the static
  // convolution it replaces.
  torch::NoGradGuard no_grad;
  const double fan_in = static_cast<double>(weight[0].numel() / weight.size(1));
  for (int64_t e = 0; e < experts; ++e) {
    torch::nn::init::kaiming_uniform_(weight[e], std::sqrt(5.0));
    if (bias.defined()) bias[e].uniform_(-1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
  }
}

torch::Tensor CondConv2dImpl::forward(const torch::Tensor& x, const torch::Tensor& routing) {
  if (routing.dim() != 2 || routing.size(0) != x.size(0) || routing.size(1) != experts_)
    throw std::invalid_argument("CondConv2d: routing must be [N, experts]");
  // [cc] CondConv2D.call: kernels = routing @ condconv_kernel, biases likewise.
  const auto r = routing.to(x.dtype());
  const auto w = mix(r, fast_weight(weight));
  const auto b = bias.defined() ? mix(r, fast_weight(bias)) : torch::Tensor();
  return per_sample_conv2d(x, w, b, conv_);
}

ConvSlot::ConvSlot(torch::nn::Module& owner, const std::string& name, const torch::nn::Conv2dOptions& conv,
                   const ConvChoice& choice)
    : type_(choice.type) {
  switch (choice.type) {
    case ConvType::Static: static_ = owner.register_module(name, torch::nn::Conv2d(conv)); break;
    case ConvType::Dynamic: dynamic_ = owner.register_module(name, DynamicConv2d(conv, choice.dynamic)); break;
    case ConvType::CondConv:
      condconv_ = owner.register_module(name, CondConv2d(conv, choice.condconv_experts));
      break;
  }
}

torch::Tensor ConvSlot::forward(const torch::Tensor& x, const torch::Tensor& routing) {
  switch (type_) {
    case ConvType::Dynamic: return dynamic_->forward(x);
    case ConvType::CondConv:
      if (!routing.defined()) throw std::logic_error("ConvSlot: a CondConv layer needs its block's routing");
      return condconv_->forward(x, routing);
    case ConvType::Static: break;
  }
  return conv2d(*static_, x);
}

}  // namespace uda::models
