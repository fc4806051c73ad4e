#include "algos/align/losses.h"

#include "models/layers/sample_randomness.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace uda::algos::align {

namespace F = torch::nn::functional;

DomainBedMlpImpl::DomainBedMlpImpl(int64_t n_in, int64_t n_out, int64_t width, int64_t depth, double dropout)
    : dropout_(dropout) {
  if (depth < 2) throw std::invalid_argument("DomainBed's MLP needs mlp_depth >= 2 (input and output layers)");
  input_ = register_module("input", torch::nn::Linear(n_in, width));
  hiddens_ = register_module("hiddens", torch::nn::ModuleList());
  for (int64_t i = 0; i < depth - 2; ++i) hiddens_->push_back(torch::nn::Linear(width, width));
  output_ = register_module("output", torch::nn::Linear(width, n_out));
}

torch::Tensor DomainBedMlpImpl::forward(torch::Tensor x) {
  x = torch::relu(models::sample_dropout(input_->forward(x), dropout_, is_training()));
  for (const auto& h : *hiddens_)
    x = torch::relu(models::sample_dropout(h->as<torch::nn::Linear>()->forward(x), dropout_, is_training()));
  return output_->forward(x);
}

torch::Tensor domainbed_sq_dist(const torch::Tensor& x, const torch::Tensor& y) {
  auto xn = x.pow(2).sum(-1, /*keepdim=*/true);
  auto yn = y.pow(2).sum(-1, /*keepdim=*/true);
  return torch::addmm(yn.transpose(-2, -1), x, y.transpose(-2, -1), /*beta=*/1, /*alpha=*/-2).add(xn).clamp_min(1e-30);
}

namespace {
// `same`: x and y are the same rows, whose distances to themselves are 0.
// DomainBed computes them as ||x||^2 - 2 x.x + ||x||^2 too, a rounding
// residue (clamped at 1e-30 when negative) that its kernel exp(-1000 D)
// differentiates: float32 noise of the size of the gradient itself. The
// exact 0 (with no gradient) is the same function in exact arithmetic.
torch::Tensor domainbed_gaussian_kernel(const torch::Tensor& x, const torch::Tensor& y, bool same) {
  auto d = domainbed_sq_dist(x, y);
  if (same) d = d * (1 - torch::eye(d.size(0), d.options()));
  auto k = torch::zeros_like(d);
  for (double g : {0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0}) k = k + torch::exp(d * -g);
  return k;
}
}  // namespace

torch::Tensor domainbed_mmd(const torch::Tensor& x, const torch::Tensor& y) {
  return domainbed_gaussian_kernel(x, x, true).mean() + domainbed_gaussian_kernel(y, y, true).mean() -
         2 * domainbed_gaussian_kernel(x, y, false).mean();
}

torch::Tensor domainbed_coral(const torch::Tensor& x, const torch::Tensor& y) {
  auto mean_x = x.mean(0, true), mean_y = y.mean(0, true);
  auto cx = x - mean_x, cy = y - mean_y;
  auto cova_x = cx.t().matmul(cx) / static_cast<double>(x.size(0) - 1);
  auto cova_y = cy.t().matmul(cy) / static_cast<double>(y.size(0) - 1);
  return (mean_x - mean_y).pow(2).mean() + (cova_x - cova_y).pow(2).mean();
}

torch::Tensor pairwise_domain_penalty(const torch::Tensor& features, const torch::Tensor& domains,
                                      int64_t num_domains, PairKernel kernel) {
  std::vector<torch::Tensor> parts;
  auto dom = domains.to(features.device());
  for (int64_t d = 0; d < num_domains; ++d)
    parts.push_back(features.index_select(0, (dom == d).nonzero().flatten()));
  auto penalty = torch::zeros({}, features.options());
  for (int64_t i = 0; i < num_domains; ++i)
    for (int64_t j = i + 1; j < num_domains; ++j)
      penalty = penalty + (kernel == PairKernel::Gaussian ? domainbed_mmd(parts[i], parts[j])
                                                          : domainbed_coral(parts[i], parts[j]));
  if (num_domains > 1) penalty = penalty / (static_cast<double>(num_domains * (num_domains - 1)) / 2.0);
  return penalty;
}

torch::Tensor dann_discriminator_loss(const torch::Tensor& disc_out, const torch::Tensor& disc_labels) {
  return F::cross_entropy(disc_out, disc_labels);
}

torch::Tensor cdann_balanced_loss(const torch::Tensor& disc_out, const torch::Tensor& disc_labels,
                                  const torch::Tensor& class_labels) {
  const int64_t length = class_labels.max().item<int64_t>() + 1;
  auto y_counts = F::one_hot(class_labels, length).sum(0);
  auto weights = 1.0 / (y_counts.index_select(0, class_labels) * length).to(torch::kFloat);
  auto per_sample = F::cross_entropy(disc_out, disc_labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return (weights.to(per_sample.dtype()) * per_sample).sum();
}

torch::Tensor dann_gradient_penalty(const torch::Tensor& disc_out, const torch::Tensor& disc_labels,
                                    const torch::Tensor& disc_input) {
  auto summed = F::cross_entropy(disc_out, disc_labels, F::CrossEntropyFuncOptions().reduction(torch::kSum));
  auto g = torch::autograd::grad({summed}, {disc_input}, /*grad_outputs=*/{}, /*retain_graph=*/true,
                                 /*create_graph=*/true)[0];
  return g.pow(2).sum(1).mean(0);
}

std::vector<double> dan_alphas() { return {0.125, 0.25, 0.5, 1.0, 2.0}; }

torch::Tensor multi_kernel_matrix(const torch::Tensor& x, const std::vector<double>& alphas) {
  auto n2 = x.pow(2).sum(1, true);
  auto d = (n2 + n2.t() - 2 * x.matmul(x.t())).clamp_min(0);
  auto mean_d = d.detach().mean();
  torch::Tensor k;
  for (double a : alphas) {
    auto term = torch::exp(-d / (2 * a * mean_d));
    k = k.defined() ? k + term : term;
  }
  return k;
}

torch::Tensor mk_mmd(const torch::Tensor& zs, const torch::Tensor& zt, const std::vector<double>& alphas,
                     const torch::Tensor& source_weights, bool tllib_offset) {
  const int64_t ns = zs.size(0), nt = zt.size(0);
  if (ns < 2 || nt < 2) throw std::invalid_argument("mk_mmd needs at least 2 rows per side");
  auto k = multi_kernel_matrix(torch::cat({zs, zt}), alphas);
  auto kss = k.narrow(0, 0, ns).narrow(1, 0, ns);
  auto ktt = k.narrow(0, ns, nt).narrow(1, ns, nt);
  auto kst = k.narrow(0, 0, ns).narrow(1, ns, nt);
  auto a = source_weights.defined() ? source_weights.to(zs.dtype()).view({-1}) : torch::ones({ns}, zs.options());
  auto off_s = 1 - torch::eye(ns, zs.options());
  auto off_t = 1 - torch::eye(nt, zt.options());
  auto ss = (a.view({-1, 1}) * a.view({1, -1}) * kss * off_s).sum() / static_cast<double>(ns * (ns - 1));
  auto tt = (ktt * off_t).sum() / static_cast<double>(nt * (nt - 1));
  auto st = (a.view({-1, 1}) * kst).sum() / static_cast<double>(ns * nt);
  auto loss = ss + tt - 2 * st;
  if (tllib_offset && ns == nt) loss = loss + 2.0 / static_cast<double>(ns - 1);
  return loss;
}

torch::Tensor class_conditional_mmd(const torch::Tensor& zs, const torch::Tensor& ys, const torch::Tensor& zt,
                                    const torch::Tensor& yt, int64_t num_classes, const std::vector<double>& alphas,
                                    int64_t* classes_used) {
  torch::Tensor total;
  int64_t used = 0;
  auto ys_d = ys.to(zs.device()), yt_d = yt.to(zt.device());
  for (int64_t c = 0; c < num_classes; ++c) {
    auto si = (ys_d == c).nonzero().flatten();
    auto ti = (yt_d == c).nonzero().flatten();
    if (si.numel() < 2 || ti.numel() < 2) continue;
    auto term = mk_mmd(zs.index_select(0, si), zt.index_select(0, ti), alphas);
    total = total.defined() ? total + term : term;
    ++used;
  }
  if (classes_used) *classes_used = used;
  if (!total.defined()) return torch::zeros({}, zs.options());
  return total / static_cast<double>(used);
}

namespace {
class GradientReverse : public torch::autograd::Function<GradientReverse> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double coeff) {
    ctx->saved_data["coeff"] = coeff;
    return x.view_as(x).clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    return {grad[0].neg() * ctx->saved_data["coeff"].toDouble(), torch::Tensor()};
  }
};
}  // namespace

torch::Tensor gradient_reverse(const torch::Tensor& x, double coeff) { return GradientReverse::apply(x, coeff); }

double grl_coefficient(int64_t iter, double gamma, double horizon) {
  return 2.0 / (1.0 + std::exp(-gamma * static_cast<double>(iter) / horizon)) - 1.0;
}

}  // namespace uda::algos::align
