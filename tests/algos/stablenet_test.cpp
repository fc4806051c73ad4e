// StableNet's weighting (algos/augment/stablenet_weighting.h) against the
// official functions of xxgege/StableNet run on fixed inputs and fixed
// random Fourier draws (scripts/make_stablenet_golden.py,
// tests/fixtures/augment/stablenet_official.json): the random Fourier
// features (sum and concatenation), the weighted and plain covariance, and
// the whole inner loop (20 momentum-SGD steps, lr decay) with the memory
// update in its steady (0.9/0.1) and warm-up (running average) forms, at
// the official lambdap 70 and at a small lambdap where the weights move far
// from uniform.
#include "algos/augment/stablenet_weighting.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

namespace {

using nlohmann::json;
namespace sn = uda::algos::stablenet;

json golden() {
  std::ifstream in(std::string(UDA_SOURCE_DIR) + "/tests/fixtures/augment/stablenet_official.json");
  EXPECT_TRUE(in.good());
  return json::parse(in);
}

at::Tensor tensor(const json& values, std::vector<int64_t> shape) {
  auto v = values.get<std::vector<float>>();
  return torch::tensor(v, torch::kFloat32).reshape(shape);
}

void expect_close(const at::Tensor& got, const at::Tensor& want, double atol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double diff = (got - want).abs().max().item<double>();
  EXPECT_LE(diff, atol) << what << ": largest difference " << diff;
}

TEST(StableNetWeighting, RandomFourierFeaturesAndCovarianceMatchOfficial) {
  const auto g = golden();
  const int64_t n = g["n"], r = g["r"], f = g["num_f"];
  const auto x = tensor(g["features"], {n, r});
  sn::RffDraw d{tensor(g["draws"][0]["w"], {f, 1}), tensor(g["draws"][0]["b"], {r, f})};
  const auto z = sn::random_fourier_features(x, d, true);
  expect_close(z, tensor(g["rff_sum"], {n, r, f}), 1e-6, "rff sum");
  expect_close(sn::random_fourier_features(x, d, false), tensor(g["rff_cat"], {n, r, 2 * f}), 1e-6, "rff cat");
  const auto w = tensor(g["cov_weights"], {n, 1});
  expect_close(sn::weighted_cov(z.select(-1, 0), w), tensor(g["cov_weighted"], {r, r}), 1e-6, "weighted cov");
  expect_close(sn::weighted_cov(z.select(-1, 0), at::Tensor()), tensor(g["cov_plain"], {r, r}), 1e-6, "plain cov");
}

TEST(StableNetWeighting, InnerLoopAndMemoryMatchOfficial) {
  const auto g = golden();
  const int64_t n = g["n"], m = g["m"], r = g["r"], f = g["num_f"];
  const auto x = tensor(g["features"], {n, r});
  const auto mf = tensor(g["memory_features"], {m, r});
  const auto mw = tensor(g["memory_weights"], {m, 1});
  auto draw = [&](int64_t e) {
    return sn::RffDraw{tensor(g["draws"][e]["w"], {f, 1}), tensor(g["draws"][e]["b"], {r, f})};
  };
  for (const auto& name : {"steady", "warmup", "strong"}) {
    const auto& c = g["cases"][name];
    sn::Options o;
    o.epochs = g["epochs"];
    o.lambdap = c["lambdap"];
    const int64_t warm = c["global_epoch"].get<int>() == 0 ? c["iter"].get<int64_t>() : -1;
    const auto res = sn::learn_weights(x, mf, mw, o, draw, warm);
    const auto want = tensor(c["weights"], {n});
    expect_close(res.weights, want, 2e-6, std::string(name) + " weights");
    // The weights moved away from uniform (the check is not vacuous).
    EXPECT_GT((want - 1.0 / n).abs().max().item<double>(), 1e-5) << name;
    EXPECT_NEAR(res.weights.sum().item<double>(), 1.0, 1e-5);
    expect_close(res.memory_features, tensor(c["memory_features"], {m, r}), 1e-6, std::string(name) + " memory");
    expect_close(res.memory_weights, tensor(c["memory_weights"], {m, 1}), 2e-5,
                 std::string(name) + " memory weights");
  }
}

TEST(StableNetWeighting, MemorySmallerThanBatchIsRejected) {
  auto x = torch::randn({4, 3});
  EXPECT_THROW(sn::learn_weights(x, torch::zeros({2, 3}), torch::ones({2, 1}), sn::Options{},
                                 [](int64_t) { return sn::RffDraw{torch::ones({1, 1}), torch::zeros({3, 1})}; }, -1),
               std::invalid_argument);
}

}  // namespace
