// ASR-Norm (models/layers/asr_norm.h) and the ADA digits network
// (models/classifiers/ada_cnn.h): closed gates give InstanceNorm, open
// gates give the predicted statistics and affine parameters (checked
// against a recomputation of the paper's formulas in double precision),
// every parameter receives a gradient, fast weights (meta-learning) are
// honoured, and ada_cnn's shapes and its image-size check.
#include "models/classifiers/ada_cnn.h"
#include "models/classifiers/mnist_cnn.h"
#include "models/layers/asr_norm.h"
#include "models/layers/fast_weights.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using uda::models::AsrNorm;

void set_gates(AsrNorm& m, double v) {
  torch::NoGradGuard g;
  for (auto* p : {&m->lambda_mu, &m->lambda_sigma, &m->lambda_beta, &m->lambda_gamma}) p->fill_(v);
}

TEST(AsrNorm, ClosedGatesAreInstanceNorm) {
  torch::manual_seed(0);
  AsrNorm m(32);
  set_gates(m, -40.0);
  auto x = torch::randn({3, 32, 5, 6}) * 3 + 1;
  auto want = torch::instance_norm(x, {}, {}, {}, {}, true, 0.0, 1e-6, false);
  EXPECT_LT((m->forward(x) - want).abs().max().item<double>(), 1e-5);
}

TEST(AsrNorm, OpenGatesFollowThePaperFormulas) {
  torch::manual_seed(1);
  AsrNorm m(32);
  m->to(torch::kFloat64);
  set_gates(m, 40.0);
  {
    torch::NoGradGuard g;
    m->bias_beta.uniform_(-1, 1);
    m->bias_gamma.uniform_(0.5, 1.5);
  }
  auto x = torch::randn({2, 32, 4, 4}, torch::kFloat64) * 2 - 0.5;
  auto mu = x.mean({2, 3});
  auto sigma = torch::sqrt(x.var({2, 3}, false) + 1e-6);
  auto lin = [](torch::nn::Linear& l, const torch::Tensor& v) { return torch::matmul(v, l->weight.t()) + l->bias; };
  auto mean = lin(m->standard_mean_decoder, torch::relu(lin(m->standard_encoder, mu)));
  auto sd = torch::relu(lin(m->standard_std_decoder, torch::relu(lin(m->standard_encoder, sigma))));
  auto beta = torch::tanh(lin(m->rescale_beta_decoder, torch::relu(lin(m->rescale_encoder, mu)))) + m->bias_beta;
  auto gamma =
      torch::sigmoid(lin(m->rescale_gamma_decoder, torch::relu(lin(m->rescale_encoder, sigma)))) + m->bias_gamma;
  auto want = (x - mean.view({2, 32, 1, 1})) / sd.view({2, 32, 1, 1}) * gamma.view({2, 32, 1, 1}) +
              beta.view({2, 32, 1, 1});
  // The predicted std can be 0 after the ReLU; keep the rows where it is not.
  auto ok = (sd > 1e-3).view({2, 32, 1, 1}).expand_as(x);
  auto got = m->forward(x);
  EXPECT_LT((got - want).abs().masked_select(ok).max().item<double>(), 1e-9);
  EXPECT_GT(ok.sum().item<int64_t>(), 0);
}

TEST(AsrNorm, EveryParameterGetsAGradientAndFastWeightsApply) {
  torch::manual_seed(2);
  AsrNorm m(32);
  set_gates(m, 0.0);
  auto x = torch::randn({4, 32, 3, 3});
  m->forward(x).pow(2).sum().backward();
  for (const auto& p : m->named_parameters())
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  // Fast weights: bias_gamma replaced by 2 * bias_gamma equals the module
  // with that parameter actually changed.
  torch::NoGradGuard g;
  const auto doubled = m->bias_gamma * 2;
  at::Tensor fast;
  {
    uda::models::FastWeights scope({m->bias_gamma}, {doubled});
    fast = m->forward(x);
  }
  m->bias_gamma.copy_(doubled);
  EXPECT_LT((fast - m->forward(x)).abs().max().item<double>(), 1e-6);
}

TEST(AdaCnn, ShapesFeaturesAndImageSizeCheck) {
  torch::manual_seed(3);
  uda::models::ClassifierConfig c;
  c.in_channels = 1;
  for (bool asr : {false, true}) {
    auto net = std::make_shared<uda::models::AdaCnnImpl>(c, 28, asr);
    auto x = torch::randn({2, 1, 28, 28});
    EXPECT_EQ(net->features(x).sizes(), (std::vector<int64_t>{2, 1024}));
    EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{2, 10}));
    EXPECT_EQ(net->fc1->weight.size(1), 128 * 4 * 4);
    EXPECT_EQ(static_cast<bool>(net->norm1), asr);
    EXPECT_THROW(net->forward(torch::randn({2, 1, 32, 32})), std::invalid_argument);
  }
  // The official 32x32 digits: flatten 128 * 5 * 5 (M-ADA ada_conv.py:14).
  EXPECT_EQ(std::make_shared<uda::models::AdaCnnImpl>(c, 32)->fc1->weight.size(1), 128 * 5 * 5);
}

// MNIST_CNN with model.norm = asr_norm: ASR-Norm layers under bn0..bn3 in
// place of the GroupNorms, the convs initialised as without them (the same
// draws: the convs are registered first), every ASR parameter reached by
// the gradient, and with closed gates each layer is an instance norm of the
// ReLU output.
TEST(MnistCnnAsrNorm, ReplacesTheGroupNormsUnderTheirKeys) {
  uda::models::ClassifierConfig c;
  c.in_channels = 1;
  torch::manual_seed(4);
  auto plain = std::make_shared<uda::models::MnistCnnImpl>(c);
  torch::manual_seed(4);
  auto net = std::make_shared<uda::models::MnistCnnImpl>(c, true);
  EXPECT_FALSE(net->bn0);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(net->asr[static_cast<size_t>(i)]) << i;
  auto params = net->named_parameters(true);
  EXPECT_TRUE(params.contains("bn1.standard_encoder.weight"));
  EXPECT_TRUE(params.contains("bn3.lambda_gamma"));
  EXPECT_FALSE(params.contains("bn1.weight"));
  EXPECT_TRUE(torch::equal(params["conv2.weight"], plain->named_parameters(true)["conv2.weight"]));

  auto x = torch::randn({3, 1, 28, 28});
  EXPECT_EQ(net->features(x).sizes(), (std::vector<int64_t>{3, 128}));
  net->forward(x).pow(2).sum().backward();
  for (const auto& p : params)
    if (p.key().rfind("bn", 0) == 0) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
    }

  // Closed gates: bn0 normalises each channel of relu(conv1(x)) per image.
  for (auto& m : net->asr) set_gates(m, -40.0);
  torch::NoGradGuard g;
  auto hooked = torch::Tensor();
  uda::models::ActivationHook hook = [&](const std::string& point, const torch::Tensor& t) {
    if (point == "conv2") hooked = t;
    return t;
  };
  net->forward_hooked(x, hook);
  auto conv1 = torch::relu(torch::conv2d(x, params["conv1.weight"], params["conv1.bias"], 1, 1));
  auto want = torch::instance_norm(conv1, {}, {}, {}, {}, true, 0.0, 1e-6, false);
  EXPECT_LT((hooked - want).abs().max().item<double>(), 1e-4);
}

}  // namespace
