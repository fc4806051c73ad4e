// The losses of the feature-alignment plugins (algos/align/), as plain
// functions of tensors so that the unit tests compare them with the
// reference implementations (DomainBed's own code through
// tests/fixtures/align/*.json, scripts/make_align_golden.py; brute-force
// loops for the TLlib/WMMD estimates). The plugins apply them to the GLOBAL
// batch (every rank's rows, comm/differentiable.h): every function here is a
// function of the set of rows, not of their order or of which rank holds
// them.
//
// DomainBed references are to facebookresearch/DomainBed commit b93c22a,
// domainbed/algorithms.py and domainbed/networks.py.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace uda::algos::align {

// ---------------------------------------------------------------------------
// DomainBed's MLP (networks.py:47-70): `input` Linear(n_in, width), depth-2
// `hiddens` Linear(width, width), `output` Linear(width, n_out); after the
// input and every hidden layer: dropout, then ReLU (dropout BEFORE the
// ReLU, one nn.Dropout module reused). The dropout draws per sample
// (models::sample_dropout), so the rows' masks do not depend on the rank.
// Parameter names are DomainBed's (input.weight, hiddens.0.weight, ...).
class DomainBedMlpImpl : public torch::nn::Module {
 public:
  DomainBedMlpImpl(int64_t n_in, int64_t n_out, int64_t width, int64_t depth, double dropout);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Linear input_{nullptr}, output_{nullptr};
  torch::nn::ModuleList hiddens_{nullptr};
  double dropout_;
};
TORCH_MODULE(DomainBedMlp);

// ---------------------------------------------------------------------------
// DomainBed AbstractMMD (algorithms.py:973-1048).

// my_cdist (:986-992): ||x||^2 - 2 x.y + ||y||^2 as torch.addmm computes it,
// clamped at 1e-30.
torch::Tensor domainbed_sq_dist(const torch::Tensor& x, const torch::Tensor& y);
// MMD (:994-1009): K = sum_{g in 1e-3..1e3} exp(-g D); the biased estimate
// mean(Kxx) + mean(Kyy) - 2 mean(Kxy). The diagonals of Kxx and Kyy use the
// exact distance 0 (DomainBed: the float rounding of ||x||^2 - 2 x.x +
// ||x||^2, whose gradient exp(-1000 D) amplifies into noise; docs/ALGORITHMS.md).
torch::Tensor domainbed_mmd(const torch::Tensor& x, const torch::Tensor& y);
// CORAL (:1010-1021): mean over d of (mu_x - mu_y)^2 plus mean over d x d of
// (C_x - C_y)^2, covariances with 1/(n-1).
torch::Tensor domainbed_coral(const torch::Tensor& x, const torch::Tensor& y);

enum class PairKernel { Gaussian, MeanCov };
// The penalty of update() (:1032-1039): sum over domain pairs i < j of the
// kernel's discrepancy between the rows of domain i and of domain j
// (`domains`: int64 [N] in [0, num_domains)), divided by the number of pairs
// when num_domains > 1.
torch::Tensor pairwise_domain_penalty(const torch::Tensor& features, const torch::Tensor& domains,
                                      int64_t num_domains, PairKernel kernel);

// ---------------------------------------------------------------------------
// DomainBed AbstractDANN (algorithms.py:519-544).

// DANN (:537-538): cross_entropy(disc_out, disc_labels), the mean.
torch::Tensor dann_discriminator_loss(const torch::Tensor& disc_out, const torch::Tensor& disc_labels);
// CDANN's class balance (:532-536): y_counts = one_hot(y).sum(0) (length
// max(y) + 1), w_i = 1 / (y_counts[y_i] * len(y_counts)), sum_i w_i CE_i.
torch::Tensor cdann_balanced_loss(const torch::Tensor& disc_out, const torch::Tensor& disc_labels,
                                  const torch::Tensor& class_labels);
// Gradient penalty (:540-543): g = d/d(disc_input) of the SUMMED
// cross-entropy, with create_graph; mean over rows of ||g_i||^2. `disc_out`
// must have been computed from `disc_input`.
torch::Tensor dann_gradient_penalty(const torch::Tensor& disc_out, const torch::Tensor& disc_labels,
                                    const torch::Tensor& disc_input);

// ---------------------------------------------------------------------------
// Multi-kernel MMD of DAN (Long et al., ICML 2015) as TLlib implements it
// (tllib/alignment/dan.py MultipleKernelMaximumMeanDiscrepancy,
// tllib/modules/kernels.py GaussianKernel): the Gaussian kernels of the rows
// of X = [zs; zt] with sigma_k^2 = alpha_k * mean over all (i, j) of
// ||x_i - x_j||^2 (detached), k = sum_k exp(-||x_i - x_j||^2 / (2 sigma_k^2)).
// Squared distances as ||x||^2 + ||y||^2 - 2 x.y clamped at 0 (TLlib
// broadcasts the differences; the same up to rounding, without the
// [n, n, d] tensor).
torch::Tensor multi_kernel_matrix(const torch::Tensor& x, const std::vector<double>& alphas);
// TLlib's alphas: 2^k for k in -3..1.
std::vector<double> dan_alphas();

// The quadratic-time estimate (TLlib's linear=False): with row weights a
// (source) and 1 (target),
//   sum_{i != j} a_i a_j k(s_i, s_j) / (ns (ns - 1))
// + sum_{i != j} k(t_i, t_j) / (nt (nt - 1))
// - 2 sum_{i, j} a_i k(s_i, t_j) / (ns nt)
// (+ 2 / (n - 1) when `tllib_offset` and ns == nt == n: the constant TLlib
// adds "to make up for the diagonal"; no gradient). Unweighted when
// `source_weights` is undefined. Row order does not matter (TLlib's
// linear-time estimate pairs row i with row i + 1, which would make the
// loss depend on how the global batch is laid out over ranks).
torch::Tensor mk_mmd(const torch::Tensor& zs, const torch::Tensor& zt, const std::vector<double>& alphas,
                     const torch::Tensor& source_weights = {}, bool tllib_offset = false);

// Class-conditional MMD (CWMMD's class-specific term): for every class
// present with at least 2 rows on each side (source label, target
// pseudo-label), mk_mmd of that class's rows, bandwidths from those rows;
// the mean over such classes (0, with no gradient, when there is none).
// `classes_used` receives their number when given.
torch::Tensor class_conditional_mmd(const torch::Tensor& zs, const torch::Tensor& ys, const torch::Tensor& zt,
                                    const torch::Tensor& yt, int64_t num_classes, const std::vector<double>& alphas,
                                    int64_t* classes_used = nullptr);

// ---------------------------------------------------------------------------
// Gradient reversal (Ganin & Lempitsky, ICML 2015): identity forward,
// -coeff * gradient backward.
torch::Tensor gradient_reverse(const torch::Tensor& x, double coeff);
// The coefficient schedule 2 (hi - lo) / (1 + exp(-gamma * i / horizon)) -
// (hi - lo) + lo with lo 0, hi 1: Ganin's 2 / (1 + exp(-10 p)) - 1 with
// p = i / max_iters (gamma 10, horizon max_iters), or TLlib's
// WarmStartGradientReverseLayer (gamma = alpha 1, horizon max_iters 1000,
// i = iterations done).
double grl_coefficient(int64_t iter, double gamma, double horizon);

}  // namespace uda::algos::align
