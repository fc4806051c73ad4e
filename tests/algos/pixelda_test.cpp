// PixelDA: the loss formulas (algos/gan/pixelda_losses.h) against golden
// values of the official TF formulas (tests/fixtures/pixelda/losses.json,
// scripts/make_pixelda_golden.py), and the networks
// (models/gan/pixelda_networks.h) against the official architecture:
// parameter counts worked out by hand from pixelda_model.py /
// pixelda_task_towers.py, TF 'SAME' padding, per-sample noise.
#include "algos/gan/pixelda_losses.h"
#include "models/gan/pixelda_networks.h"
#include "models/layers/sample_randomness.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

namespace {

using nlohmann::json;
namespace G = uda::algos::gan;
namespace M = uda::models::gan;

json fixture() {
  std::ifstream in(std::string(UDA_SOURCE_DIR) + "/tests/fixtures/pixelda/losses.json");
  EXPECT_TRUE(in.good());
  return json::parse(in);
}

void flatten(const json& j, std::vector<double>& v, std::vector<int64_t>& shape, size_t depth) {
  if (!j.is_array()) {
    v.push_back(j.get<double>());
    return;
  }
  if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(j.size()));
  for (const auto& e : j) flatten(e, v, shape, depth + 1);
}
torch::Tensor tensor(const json& j) {
  std::vector<double> v;
  std::vector<int64_t> shape;
  flatten(j, v, shape, 0);
  return torch::tensor(v, torch::kDouble).view(shape);
}

double rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item<double>();
}

int64_t count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(PixelDaLosses, PairwiseSquaredErrorMatchesTheOfficialFormula) {
  const auto f = fixture()["mpse"];
  auto p = tensor(f["predictions"]).requires_grad_(true);
  auto per = G::pairwise_squared_error_per_sample(p, tensor(f["labels"]));
  EXPECT_LT(rel(per, tensor(f["per_sample"])), 1e-12);
  auto total = per.sum();  // tf.contrib's _scale_losses: the batch's sum
  EXPECT_NEAR(total.item<double>(), f["sum"].get<double>(), 1e-12);
  total.backward();
  EXPECT_LT(rel(p.grad(), tensor(f["grad_sum"])), 1e-12);
  // Not the plain mean squared error: the pairwise error ignores a constant shift.
  auto shifted = G::pairwise_squared_error_per_sample(tensor(f["labels"]) + 0.3, tensor(f["labels"]));
  EXPECT_LT(shifted.abs().max().item<double>(), 1e-12);
}

TEST(PixelDaLosses, MaskedPairwiseSquaredErrorMatchesTheOfficialFormula) {
  const auto f = fixture()["masked_mpse"];
  auto p = tensor(f["predictions"]).requires_grad_(true);
  auto per = G::masked_pairwise_squared_error_per_sample(p, tensor(f["labels"]));
  EXPECT_LT(rel(per, tensor(f["per_sample"])), 1e-12);
  per.sum().backward();
  EXPECT_LT(rel(p.grad(), tensor(f["grad_sum"])), 1e-12);
  // The mask matters on this input: unmasked differs.
  auto plain = G::pairwise_squared_error_per_sample(p.detach(), tensor(f["labels"]));
  EXPECT_GT(rel(plain, tensor(f["per_sample"])), 1e-3);
  EXPECT_THROW(G::masked_pairwise_squared_error_per_sample(torch::zeros({1, 3, 2, 2}), torch::zeros({1, 3, 2, 2})),
               std::invalid_argument);
}

TEST(PixelDaLosses, GanLossesMatchTheOfficialSigmoidCrossEntropy) {
  const auto all = fixture();
  for (const char* name : {"sigmoid_label0", "sigmoid_label1"}) {
    const auto f = all[name];
    auto x = tensor(f["logits"]).requires_grad_(true);
    auto v = G::sigmoid_cross_entropy_mean(x, f["label"].get<double>());
    EXPECT_NEAR(v.item<double>(), f["value"].get<double>(), 1e-12) << name;
    v.backward();
    EXPECT_LT(rel(x.grad(), tensor(f["grad"])), 1e-12) << name;
  }
  const auto f = all["softmax"];
  auto logits = tensor(f["logits"]).requires_grad_(true);
  auto y = tensor(f["labels"]).to(torch::kLong);
  auto v = torch::nn::functional::cross_entropy(logits, y);
  EXPECT_NEAR(v.item<double>(), f["value"].get<double>(), 1e-12);
  v.backward();
  EXPECT_LT(rel(logits.grad(), tensor(f["grad"])), 1e-12);
}

TEST(PixelDaNetworks, ParameterCountsAndShapesOfTheOfficialArchitecture) {
  M::PixelDaOptions o;  // hparams.py defaults, 28x28 RGB, 10 classes
  M::PixelDaGenerator g(o);
  M::PixelDaDiscriminator d(o);
  M::PixelDaTaskTower t(o);
  // Generator: fc 10->784 (no bias) + beta 784; conv 3x3 4->64 + bias; 6 x
  // (2 conv 3x3 64->64 without bias + 2 beta 64); conv 1x1 64->3 + bias.
  EXPECT_EQ(count(*g), 7840 + 784 + (4 * 64 * 9 + 64) + 6 * (2 * 64 * 64 * 9 + 2 * 64) + (64 * 3 + 3));
  // Discriminator: 28 -> conv1 (stride 1) 28 -> 14 (128) -> 7 (256) -> 4 (512); fc 4*4*512 -> 1.
  EXPECT_EQ(d->num_blocks(), 3);
  EXPECT_EQ(count(*d), (3 * 64 * 9 + 64) + (64 * 128 * 9 + 128) + (128 * 256 * 9 + 256) + (256 * 512 * 9 + 512) +
                           (4 * 4 * 512 + 1));
  // Task tower (mnist_classifier): two private conv 5x5 3->32, conv 5x5
  // 32->48, fc 7*7*48->100, 100->100, 100->10.
  EXPECT_EQ(count(*t), 2 * (3 * 32 * 25 + 32) + (32 * 48 * 25 + 48) + (7 * 7 * 48 * 100 + 100) + 10100 + 1010);

  torch::manual_seed(0);
  M::init_pixelda_weights(*g, 0.02);
  auto x = torch::rand({4, 3, 28, 28}) * 2 - 1;
  auto z = torch::rand({4, 10}) * 2 - 1;
  g->train();
  auto y = g->forward(x, z);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_LE(y.abs().max().item<double>(), 1.0);
  EXPECT_EQ(t->forward(x, M::PixelDaTaskTowerImpl::Input::Source).sizes(), (std::vector<int64_t>{4, 10}));
  // The two private layers are distinct: source and transferred logits differ.
  EXPECT_GT((t->forward(x, M::PixelDaTaskTowerImpl::Input::Source) -
             t->forward(x, M::PixelDaTaskTowerImpl::Input::Transferred))
                .abs()
                .max()
                .item<double>(),
            1e-6);
  // slim.batch_norm(scale=False): an offset, no scale parameter.
  for (const auto& p : g->named_parameters()) EXPECT_EQ(p.key().find("weight") != std::string::npos &&
                                                            p.key().find("bn") != std::string::npos,
                                                        false)
                                                  << p.key();
}

TEST(PixelDaNetworks, ConvolutionsPadAsTensorFlowSame) {
  // Even size, stride 2, kernel 3: TF pads 0 before and 1 after, so output
  // (0, 0) covers input rows/cols 0..2 (torch's symmetric padding 1 would
  // cover -1..1).
  M::SameConv2d c(1, 1, 3, 2, false);
  {
    torch::NoGradGuard no_grad;
    c->conv->weight.fill_(1.0);
  }
  auto x = torch::arange(16, torch::kFloat).view({1, 1, 4, 4});
  auto y = c->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_FLOAT_EQ(y[0][0][0][0].item<float>(), x.narrow(2, 0, 3).narrow(3, 0, 3).sum().item<float>());
  EXPECT_FLOAT_EQ(y[0][0][1][1].item<float>(), x.narrow(2, 2, 2).narrow(3, 2, 2).sum().item<float>());
  // Odd size: symmetric, as torch's padding 1.
  auto x7 = torch::rand({1, 1, 7, 7});
  auto ref = torch::nn::functional::conv2d(x7, c->conv->weight,
                                           torch::nn::functional::Conv2dFuncOptions().stride(2).padding(1));
  EXPECT_LT((c->forward(x7) - ref).abs().max().item<double>(), 1e-6);
}

TEST(PixelDaNetworks, DiscriminatorNoiseAndDropoutAreDrawnPerSample) {
  M::PixelDaOptions o;
  o.height = o.width = 8;
  o.num_discriminator_filters = 4;
  M::PixelDaDiscriminator d(o);
  d->eval();  // batch statistics aside (eval BN), the noise still applies
  auto x = torch::rand({4, 3, 8, 8});
  const std::vector<uint64_t> keys{11, 22, 33, 44};
  torch::Tensor whole, again;
  {
    uda::models::SampleKeyScope scope(keys);
    whole = d->forward(x);
  }
  {
    uda::models::SampleKeyScope scope(keys);
    again = d->forward(x);
  }
  EXPECT_TRUE(torch::equal(whole, again));
  // Rows 2..3 alone with their keys: the same logits as in the batch of 4.
  torch::Tensor part;
  {
    uda::models::SampleKeyScope scope({33, 44});
    part = d->forward(x.narrow(0, 2, 2));
  }
  EXPECT_LT((part - whole.narrow(0, 2, 2)).abs().max().item<double>(), 1e-6);
  // And the noise is there: other keys, other logits.
  torch::Tensor other;
  {
    uda::models::SampleKeyScope scope({1, 2, 3, 4});
    other = d->forward(x);
  }
  EXPECT_GT((other - whole).abs().max().item<double>(), 1e-4);
}

}  // namespace
