// ASR-Norm, adaptive standardization and rescaling normalization (Fan et
// al., "Adversarially Adaptive Normalization for Single Domain
// Generalization", CVPR 2021, Sec. 3): a normalization layer whose
// standardization statistics and rescaling parameters are predicted from
// the input's own (instance) statistics by small encoder-decoder networks,
// and blended with the plain statistics / fixed affine parameters by gates
// λ = sigmoid(learned scalar):
//
//   μ, σ          = the instance mean and sqrt(var + eps) of x, [N, C]
//   μ_st          = λ_μ f_μ(μ) + (1 − λ_μ) μ        f_μ = dec_μ(relu(enc_st(μ)))
//   σ_st          = λ_σ f_σ(σ) + (1 − λ_σ) σ        f_σ = relu(dec_σ(relu(enc_st(σ))))
//   x̂             = (x − μ_st) / σ_st
//   β             = λ_β tanh(g_β(μ)) + b_β           g_β = dec_β(relu(enc_rs(μ)))
//   γ             = λ_γ sigmoid(g_γ(σ)) + b_γ        g_γ = dec_γ(relu(enc_rs(σ)))
//   y             = γ x̂ + β
//
// enc_st: C → C/2 (shared by μ and σ), enc_rs: C → max(1, C/16); gates
// initialised at sigmoid(−3) (standardization) and sigmoid(−5)
// (rescaling), b_β = 0, b_γ = 1, so the layer starts as InstanceNorm with
// a near-identity affine. No official code of the paper was found; the
// widths and initial gate values follow a public re-implementation
// (named in docs/ALGORITHMS.md), the formulas the paper.
//
// Parameters are read through models/layers/fast_weights.h (meta-learning).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace uda::models {

class AsrNormImpl : public torch::nn::Module {
 public:
  explicit AsrNormImpl(int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear standard_encoder{nullptr}, rescale_encoder{nullptr};
  torch::nn::Linear standard_mean_decoder{nullptr}, standard_std_decoder{nullptr};
  torch::nn::Linear rescale_beta_decoder{nullptr}, rescale_gamma_decoder{nullptr};
  torch::Tensor lambda_mu, lambda_sigma, lambda_beta, lambda_gamma;  // [1] each, pre-sigmoid
  torch::Tensor bias_beta, bias_gamma;                                // [C]

 private:
  double eps_;
};
TORCH_MODULE(AsrNorm);

}  // namespace uda::models
