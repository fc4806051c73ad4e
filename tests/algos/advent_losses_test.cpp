// ADVENT's loss functions on hand-made inputs (the entropy map and the
// discriminator are checked against the official outputs in tests/models).
#include "algos/seg/advent_losses.h"
#include "models/ops.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace {

using uda::algos::advent_bce_loss;
using uda::algos::advent_entropy_loss;
using uda::algos::class_ratio_from_pixels;
using uda::algos::class_ratio_prior_loss;

// [1, 3, 1, 2]: one uniform pixel (entropy 1 in ADVENT's normalisation) and
// one one-hot pixel (entropy 0).
at::Tensor uniform_and_onehot() {
  auto p = torch::zeros({1, 3, 1, 2});
  p.index_put_({0, torch::indexing::Slice(), 0, 0}, 1.0 / 3.0);
  p.index_put_({0, 1, 0, 1}, 1.0);
  return p;
}

TEST(AdventLosses, EntropyLossOfHandMadeMaps) {
  // (1 + 0) / 2 pixels
  EXPECT_NEAR(advent_entropy_loss(uniform_and_onehot()).item<double>(), 0.5, 1e-6);
  // loss.py entropy_loss: sum(-p log2 p) / (n h w log2 c) on a random map,
  // i.e. the per-pixel sum over classes of prob_2_entropy, averaged.
  auto g = at::make_generator<at::CPUGeneratorImpl>(3);
  auto prob = torch::softmax(torch::randn({2, 5, 3, 4}, g, torch::TensorOptions()), 1);
  const double by_hand =
      (-(prob * torch::log2(prob + 1e-30)).sum() / (2.0 * 3 * 4 * std::log2(5.0))).item<double>();
  EXPECT_NEAR(advent_entropy_loss(prob).item<double>(), by_hand, 1e-6);
  EXPECT_NEAR(advent_entropy_loss(prob).item<double>(),
              uda::models::prob_2_entropy(prob).sum(1).mean().item<double>(), 1e-6);
}

TEST(AdventLosses, BceAgainstConstantDomainLabels) {
  auto x = torch::tensor({-2.0f, 0.0f, 3.0f}).view({1, 1, 1, 3});
  // source label 0: mean log(1 + e^x); target label 1: mean log(1 + e^-x)
  const double src = (std::log1p(std::exp(-2.0)) + std::log(2.0) + std::log1p(std::exp(3.0))) / 3;
  const double trg = (std::log1p(std::exp(2.0)) + std::log(2.0) + std::log1p(std::exp(-3.0))) / 3;
  EXPECT_NEAR(advent_bce_loss(x, 0.0).item<double>(), src, 1e-6);
  EXPECT_NEAR(advent_bce_loss(x, 1.0).item<double>(), trg, 1e-6);
}

TEST(AdventLosses, ClassRatioPriorOnHandMadeExample) {
  // Two pixels [0.6, 0.2, 0.2] and [0.8, 0.0, 0.2]: image mean [0.7, 0.1, 0.2].
  auto prob = torch::tensor({0.6f, 0.8f, 0.2f, 0.0f, 0.2f, 0.2f}).view({1, 3, 1, 2});
  auto ps = torch::tensor({0.5f, 0.3f, 0.2f});
  // relu([0.5-0.7, 0.3-0.1, 0.2-0.2]) = [0, 0.2, 0]
  EXPECT_NEAR(class_ratio_prior_loss(prob, ps).item<double>(), 0.2, 1e-6);
  // the paper's relaxation mu = 0.5: relu([0.25-0.7, 0.15-0.1, 0.1-0.2])
  EXPECT_NEAR(class_ratio_prior_loss(prob, ps, 0.5).item<double>(), 0.05, 1e-6);
  // a class over-represented on the target costs nothing (ReLU, not |.|)
  EXPECT_NEAR(class_ratio_prior_loss(prob, torch::tensor({0.7f, 0.1f, 0.2f})).item<double>(), 0.0, 1e-6);
  // averaged over images
  auto two = torch::cat({prob, torch::full({1, 3, 1, 2}, 1.0f / 3)}, 0);
  // second image: relu([0.5-1/3, 0.3-1/3, 0.2-1/3]) = 1/6
  EXPECT_NEAR(class_ratio_prior_loss(two, ps).item<double>(), (0.2 + 1.0 / 6) / 2, 1e-6);
}

TEST(AdventLosses, ClassRatioPriorGradientRaisesMissingClasses) {
  auto logits = torch::zeros({1, 3, 2, 2}, torch::requires_grad());
  auto ps = torch::tensor({0.1f, 0.1f, 0.8f});
  class_ratio_prior_loss(torch::softmax(logits, 1), ps).backward();
  // only class 2 is under-represented (1/3 < 0.8): descending the loss raises it
  EXPECT_LT(logits.grad()[0][2][0][0].item<double>(), 0.0);
  EXPECT_GT(logits.grad()[0][0][0][0].item<double>(), 0.0);
}

TEST(AdventLosses, SourceRatioFromClassPixels) {
  auto r = class_ratio_from_pixels({10, 30, 60, 999}, 3);  // extra entries (beyond the model's classes) dropped
  ASSERT_EQ(r.size(), 3u);
  EXPECT_DOUBLE_EQ(r[0], 0.1);
  EXPECT_DOUBLE_EQ(r[1], 0.3);
  EXPECT_DOUBLE_EQ(r[2], 0.6);
  EXPECT_THROW(class_ratio_from_pixels({1, 2}, 3), std::invalid_argument);
  EXPECT_THROW(class_ratio_from_pixels({0, 0, 0}, 3), std::invalid_argument);
}

}  // namespace
