// Functional evaluation of uda's networks with substituted parameters ("fast
// weights", MAML / MLDG / MetaAlign): θ' = θ − α g built with autograd
// history, then the SAME module evaluated at θ' without copying it, so that
// a loss at θ' back-propagates into θ (through g too when g was built with
// create_graph).
//
//   models::FastWeights scope(params, replacements);   // RAII, this thread
//   auto logits = net->forward(x);                      // computes with θ'
//
// While a scope is alive, every layer of uda's classifier networks fetches
// its parameters through fast_weight(p), which returns the innermost scope's
// replacement of p (looked up by the parameter's TensorImpl) or p itself.
// The layers do this through the helpers below (conv2d, linear, group_norm)
// and models/sync_batch_norm.h batch_norm; a layer none of whose parameters
// is replaced runs its module's own forward, bit for bit. Buffers (BatchNorm
// running statistics) are not replaced: a training-mode BatchNorm evaluated
// at θ' updates them as the module would.
//
// Covered: MNIST_CNN, the torchvision ResNet classifiers (convs, BatchNorm,
// stem, downsample), the linear and mlp classifier heads
// (models/classifiers/), and any module built from Conv2d / Linear /
// GroupNorm / BatchNorm2d layers that calls these helpers. Layers evaluated
// through module->forward() directly (MiT, the segmentation heads) do not
// see the replacements: evaluating them inside a scope that replaces their
// parameters is a silent no-op, so only the classifiers are meta-learned.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <unordered_map>
#include <vector>

namespace uda::models {

class FastWeights {
 public:
  // params[i] is replaced by values[i] (same shape, dtype and device;
  // std::invalid_argument otherwise). Undefined entries on either side are
  // skipped. Scopes nest; the innermost replacement of a parameter wins.
  FastWeights(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& values);
  ~FastWeights();
  FastWeights(const FastWeights&) = delete;
  FastWeights& operator=(const FastWeights&) = delete;

 private:
  FastWeights* outer_;
  std::unordered_map<const c10::TensorImpl*, at::Tensor> map_;
  friend const at::Tensor& fast_weight(const at::Tensor& param);
  friend bool has_fast_weight(const at::Tensor& param);
};

// The tensor a layer computes with in place of `param`.
const at::Tensor& fast_weight(const at::Tensor& param);
bool has_fast_weight(const at::Tensor& param);

// Module evaluations through fast_weight(); each is module.forward(x) when
// none of the module's parameters is replaced.
at::Tensor conv2d(torch::nn::Conv2dImpl& m, const at::Tensor& x);
at::Tensor linear(torch::nn::LinearImpl& m, const at::Tensor& x);
at::Tensor group_norm(torch::nn::GroupNormImpl& m, const at::Tensor& x);

}  // namespace uda::models
