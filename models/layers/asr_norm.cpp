// ASR-Norm (see asr_norm.h for the formulas and sources).
#include "models/layers/asr_norm.h"

#include <torch/torch.h>

#include "models/layers/fast_weights.h"

namespace uda::models {

AsrNormImpl::AsrNormImpl(int64_t channels, double eps) : eps_(eps) {
  namespace nn = torch::nn;
  const int64_t st = std::max<int64_t>(1, channels / 2), rs = std::max<int64_t>(1, channels / 16);
  standard_encoder = register_module("standard_encoder", nn::Linear(channels, st));
  rescale_encoder = register_module("rescale_encoder", nn::Linear(channels, rs));
  standard_mean_decoder = register_module("standard_mean_decoder", nn::Linear(st, channels));
  standard_std_decoder = register_module("standard_std_decoder", nn::Linear(st, channels));
  rescale_beta_decoder = register_module("rescale_beta_decoder", nn::Linear(rs, channels));
  rescale_gamma_decoder = register_module("rescale_gamma_decoder", nn::Linear(rs, channels));
  lambda_mu = register_parameter("lambda_mu", torch::full({1}, -3.0));
  lambda_sigma = register_parameter("lambda_sigma", torch::full({1}, -3.0));
  lambda_beta = register_parameter("lambda_beta", torch::full({1}, -5.0));
  lambda_gamma = register_parameter("lambda_gamma", torch::full({1}, -5.0));
  bias_beta = register_parameter("bias_beta", torch::zeros({channels}));
  bias_gamma = register_parameter("bias_gamma", torch::ones({channels}));
}

torch::Tensor AsrNormImpl::forward(const torch::Tensor& x) {
  const auto n = x.size(0), c = x.size(1);
  auto mu = x.mean({2, 3});
  auto sigma = torch::sqrt(x.var({2, 3}, /*unbiased=*/false) + eps_);
  // Standardization: residual blend of predicted and plain statistics.
  auto f_mu = linear(*standard_mean_decoder, torch::relu(linear(*standard_encoder, mu)));
  auto f_sigma = torch::relu(linear(*standard_std_decoder, torch::relu(linear(*standard_encoder, sigma))));
  auto l_mu = torch::sigmoid(fast_weight(lambda_mu)), l_sigma = torch::sigmoid(fast_weight(lambda_sigma));
  auto mean = l_mu * f_mu + (1 - l_mu) * mu;
  auto std = l_sigma * f_sigma + (1 - l_sigma) * sigma;
  auto y = (x - mean.view({n, c, 1, 1})) / std.view({n, c, 1, 1});
  // Rescaling: bounded predicted offsets around learned affine parameters.
  auto g_beta = torch::tanh(linear(*rescale_beta_decoder, torch::relu(linear(*rescale_encoder, mu))));
  auto g_gamma = torch::sigmoid(linear(*rescale_gamma_decoder, torch::relu(linear(*rescale_encoder, sigma))));
  auto beta = torch::sigmoid(fast_weight(lambda_beta)) * g_beta + fast_weight(bias_beta);
  auto gamma = torch::sigmoid(fast_weight(lambda_gamma)) * g_gamma + fast_weight(bias_gamma);
  return y * gamma.view({n, c, 1, 1}) + beta.view({n, c, 1, 1});
}

}  // namespace uda::models
