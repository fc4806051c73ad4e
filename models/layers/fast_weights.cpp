#include "models/layers/fast_weights.h"

#include <torch/nn/functional/conv.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/normalization.h>
#include <torch/torch.h>

#include <stdexcept>
#include <string>

namespace uda::models {

namespace {
thread_local FastWeights* current_scope = nullptr;

std::string describe(const at::Tensor& t) {
  std::string dims;
  for (auto d : t.sizes()) dims += (dims.empty() ? "" : "x") + std::to_string(d);
  return std::string(c10::toString(t.scalar_type())) + " [" + dims + "] on " + t.device().str();
}
}  // namespace

FastWeights::FastWeights(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& values)
    : outer_(current_scope) {
  if (params.size() != values.size())
    throw std::invalid_argument("FastWeights: " + std::to_string(params.size()) + " parameters but " +
                                std::to_string(values.size()) + " replacements");
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined() || !values[i].defined()) continue;
    if (params[i].sizes() != values[i].sizes() || params[i].scalar_type() != values[i].scalar_type() ||
        params[i].device() != values[i].device())
      throw std::invalid_argument("FastWeights: replacement " + std::to_string(i) + " (" + describe(values[i]) +
                                  ") does not match its parameter (" + describe(params[i]) + ")");
    map_[params[i].unsafeGetTensorImpl()] = values[i];
  }
  current_scope = this;
}

FastWeights::~FastWeights() { current_scope = outer_; }

const at::Tensor& fast_weight(const at::Tensor& param) {
  if (!param.defined()) return param;
  for (FastWeights* s = current_scope; s; s = s->outer_) {
    auto it = s->map_.find(param.unsafeGetTensorImpl());
    if (it != s->map_.end()) return it->second;
  }
  return param;
}

bool has_fast_weight(const at::Tensor& param) {
  if (!current_scope || !param.defined()) return false;
  for (FastWeights* s = current_scope; s; s = s->outer_)
    if (s->map_.count(param.unsafeGetTensorImpl())) return true;
  return false;
}

at::Tensor conv2d(torch::nn::Conv2dImpl& m, const at::Tensor& x) {
  if (!has_fast_weight(m.weight) && !has_fast_weight(m.bias)) return m.forward(x);
  const auto& o = m.options;
  // get_enum_name: the one spelling that works with libtorch 1.13's c10::variant and 2.x's std::variant.
  if (torch::enumtype::get_enum_name(o.padding_mode()) != "kZeros")
    throw std::logic_error("fast weights: Conv2d with a padding mode other than zeros is not supported");
  // Conv2dImpl::_conv_forward with the replaced weight and bias.
  return torch::nn::functional::detail::conv2d(x, fast_weight(m.weight), fast_weight(m.bias), o.stride(),
                                               o.padding(), o.dilation(), o.groups());
}

at::Tensor linear(torch::nn::LinearImpl& m, const at::Tensor& x) {
  if (!has_fast_weight(m.weight) && !has_fast_weight(m.bias)) return m.forward(x);
  return torch::nn::functional::linear(x, fast_weight(m.weight), fast_weight(m.bias));
}

at::Tensor group_norm(torch::nn::GroupNormImpl& m, const at::Tensor& x) {
  if (!has_fast_weight(m.weight) && !has_fast_weight(m.bias)) return m.forward(x);
  const auto& o = m.options;
  return torch::nn::functional::detail::group_norm(x, o.num_groups(), fast_weight(m.weight), fast_weight(m.bias),
                                                   o.eps());
}

}  // namespace uda::models
