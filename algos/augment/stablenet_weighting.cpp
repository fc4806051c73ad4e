// StableNet's weighting, after [sn] = xxgege/StableNet loss_reweighting.py
// and training/reweighting.py (facts only; the numerics follow the official
// order of operations).
#include "algos/augment/stablenet_weighting.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace uda::algos::stablenet {

at::Tensor random_fourier_features(const at::Tensor& x, const RffDraw& draw, bool sum) {
  const auto n = x.size(0), r = x.size(1);
  const auto num_f = draw.w.size(0);
  // [sn] :46-51: mid = x [n, r, 1] @ w^T [1, num_f] + b [r, num_f], then
  // min-max over dim 1 (the features) and * pi/2.
  auto mid = torch::matmul(x.reshape({n, r, 1}), draw.w.t()) + draw.b;
  mid = mid - std::get<0>(mid.min(1, true));
  mid = mid / std::get<0>(mid.max(1, true));
  mid = mid * (M_PI / 2.0);
  const double z = std::sqrt(2.0 / static_cast<double>(num_f));  // [sn] :44
  if (sum) return z * (torch::cos(mid) + torch::sin(mid));
  return z * torch::cat({torch::cos(mid), torch::sin(mid)}, -1);
}

at::Tensor weighted_cov(const at::Tensor& x, const at::Tensor& w) {
  if (!w.defined()) {
    const auto n = static_cast<double>(x.size(0));
    auto e = x.mean(0).view({-1, 1});
    return torch::matmul(x.t(), x) / n - torch::matmul(e, e.t());
  }
  auto wc = w.reshape({-1, 1});
  auto e = (wc * x).sum(0).view({-1, 1});
  return torch::matmul((wc * x).t(), x) - torch::matmul(e, e.t());
}

at::Tensor decorrelation_loss(const at::Tensor& features, const at::Tensor& weights, const RffDraw& draw, bool sum) {
  auto z = random_fourier_features(features, draw, sum);
  at::Tensor loss = torch::zeros({1}, features.options());
  for (int64_t i = 0; i < z.size(-1); ++i) {
    auto c = weighted_cov(z.select(-1, i), weights);
    auto c2 = c * c;
    loss = loss + (c2.sum() - c2.trace());
  }
  return loss;
}

Result learn_weights(const at::Tensor& features, const at::Tensor& memory_features, const at::Tensor& memory_weights,
                     const Options& o, const std::function<RffDraw(int64_t)>& draw, int64_t warmup_step) {
  const auto n = features.size(0);
  if (memory_features.size(0) < n)
    throw std::invalid_argument("StableNet: the memory holds fewer rows than the batch");
  const auto cf = features.detach();
  const auto all_features = torch::cat({cf, memory_features.detach()}, 0);
  // [sn] reweighting.py:11-16: weights = ones [n, 1], SGD(lr, momentum 0.9).
  auto weight = torch::ones({n, 1}, cf.options()).requires_grad_(true);
  at::Tensor momentum_buffer;
  for (int64_t e = 0; e < o.epochs; ++e) {
    // schedule.py:9: lrbl * 0.1 ** (epoch // (epochb * 0.5)) (float floor).
    const double lr = o.lr * std::pow(0.1, std::floor(static_cast<double>(e) / (static_cast<double>(o.epochs) * 0.5)));
    auto all_weight = torch::cat({weight, memory_weights.detach()}, 0);
    auto lossb = decorrelation_loss(all_features, torch::softmax(all_weight, 0), draw(e), o.sum);
    auto lossp = torch::softmax(weight, 0).pow(o.decay_pow).sum();
    // :25-30: lambda decay factor max(rate^(epoch // decay_epoch), min) with
    // the official rate 1 is 1; first_step_cons 1 is a no-op.
    auto lossg = lossb / o.lambdap + lossp;
    auto grad = torch::autograd::grad({lossg.sum()}, {weight})[0];
    torch::NoGradGuard no_grad;
    // torch.optim.SGD, dampening 0, no Nesterov: buf = g, then m buf + g.
    if (!momentum_buffer.defined())
      momentum_buffer = grad.clone();
    else
      momentum_buffer.mul_(o.momentum).add_(grad);
    weight.add_(momentum_buffer, -lr);
  }
  Result r;
  torch::NoGradGuard no_grad;
  const auto w = weight.detach();
  auto mf = memory_features.detach().clone();
  auto mw = memory_weights.detach().clone();
  if (warmup_step >= 0) {
    // :34-36 (requires the batch to fill the memory, as the official).
    const double s = static_cast<double>(warmup_step);
    mf = (mf * s + cf) / (s + 1.0);
    mw = (mw * s + w) / (s + 1.0);
  } else {
    // :38-46: the first n rows (all of them when n == m).
    mf.narrow(0, 0, n).mul_(o.presave_ratio).add_(cf * (1.0 - o.presave_ratio));
    mw.narrow(0, 0, n).mul_(o.presave_ratio).add_(w * (1.0 - o.presave_ratio));
  }
  r.weights = torch::softmax(w, 0).view({-1});
  r.memory_features = mf;
  r.memory_weights = mw;
  return r;
}

}  // namespace uda::algos::stablenet
