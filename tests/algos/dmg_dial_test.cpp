// DMG's masks against the official SuperMask (prithv1/DMG models/supermasks.py,
// golden values of scripts/make_dynamic_golden.py in
// tests/fixtures/dynamic/golden.json): the soft-IoU overlap penalty, the
// "softscale", "avg_mask_softscale" and "greedy" forwards; the
// straight-through mask's value and gradient. DIAL's PGD against a
// hand-written loop of the official update, and its invariants (eps-ball,
// pixel box, per-sample independence).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

#include "algos/adversarial/pgd.h"
#include "algos/dynamic/dmg_masks.h"

namespace uda::algos {
namespace {

TEST(Dmg, MasksMatchOfficialSuperMask) {
  std::ifstream f(std::string(UDA_SOURCE_DIR) + "/tests/fixtures/dynamic/golden.json");
  ASSERT_TRUE(f.good());
  const auto golden = nlohmann::json::parse(f)["dmg_masks"];
  ASSERT_EQ(golden.size(), 2u);
  for (size_t layer = 0; layer < golden.size(); ++layer) {
    const auto& g = golden[layer];
    const int64_t c = g["size"].get<int64_t>();
    auto logits = torch::empty({3, c}, torch::kDouble);
    for (int64_t d = 0; d < 3; ++d)
      logits[d] = 2 * torch::sin(0.7 * torch::arange(c, torch::kDouble) + 1.3 * static_cast<double>(d) +
                                 0.4 * static_cast<double>(layer));
    const auto probs = torch::sigmoid(logits);
    EXPECT_NEAR(dynamic::soft_overlap(probs).item<double>(), g["overlap_penalty"].get<double>(), 1e-14);
    const auto act = torch::sin(0.013 * torch::arange(3 * c * 4, torch::kDouble) + 0.1).view({3, c, 2, 2});
    auto rows = [&](const std::vector<int64_t>& ds) { return probs.index_select(0, torch::tensor(ds)); };
    const auto soft = dynamic::apply_mask(act, rows(g["softscale_rows_domains"].get<std::vector<int64_t>>()));
    const auto greedy =
        dynamic::apply_mask(act, dynamic::greedy_mask(rows(g["greedy_rows_domains"].get<std::vector<int64_t>>())));
    const auto avg = dynamic::apply_mask(act, probs.mean(0, true).expand({3, c}));
    auto expect_equal = [](const torch::Tensor& t, const nlohmann::json& v, const char* what) {
      const auto ref = torch::tensor(v.get<std::vector<double>>(), torch::kDouble);
      EXPECT_LT((t.reshape(-1) - ref).abs().max().item<double>(), 1e-14) << what;
    };
    expect_equal(soft, g["softscale"], "softscale");
    expect_equal(greedy, g["greedy"], "greedy");
    expect_equal(avg, g["avg_softscale"], "avg_mask_softscale");
  }
}

TEST(Dmg, StraightThroughMaskIsHardForwardSoftBackward) {
  auto logits = torch::tensor({{-1.0, 0.5, 2.0}}, torch::kDouble).requires_grad_();
  const auto p = torch::sigmoid(logits);
  const auto u = torch::tensor({{0.1, 0.9, 0.5}}, torch::kDouble);
  const auto m = dynamic::straight_through_mask(p, u);
  // sigmoid(-1) = 0.27 > 0.1 -> 1; sigmoid(0.5) = 0.62 < 0.9 -> 0; sigmoid(2) = 0.88 > 0.5 -> 1.
  EXPECT_TRUE(torch::allclose(m.detach(), torch::tensor({{1.0, 0.0, 1.0}}, torch::kDouble)));
  (m * torch::tensor({{1.0, 2.0, 3.0}}, torch::kDouble)).sum().backward();
  const auto expected = p.detach() * (1 - p.detach()) * torch::tensor({{1.0, 2.0, 3.0}}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(logits.grad(), expected)) << "the gradient of p (straight through)";
  // Overlap of identical masks is 1, of disjoint hard masks ~0.
  EXPECT_NEAR(dynamic::soft_overlap(torch::tensor({{1.0, 0.0}, {1.0, 0.0}})).item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(dynamic::soft_overlap(torch::tensor({{1.0, 0.0}, {0.0, 1.0}})).item<double>(), 0.0, 1e-5);
}

adversarial::PgdOptions pixel_options(int64_t steps) {
  adversarial::PgdOptions o;
  o.epsilon = 0.1;
  o.step_size = 0.03;
  o.steps = steps;
  // Images normalised as DomainBed's MNIST configs: x = 255 p / 255 = p.
  o.scale = torch::ones({1, 1, 1, 1}, torch::kDouble);
  o.lo = torch::zeros({1, 1, 1, 1}, torch::kDouble);
  o.hi = torch::ones({1, 1, 1, 1}, torch::kDouble);
  return o;
}

TEST(Dial, PgdMatchesOfficialUpdateAndStaysInTheBall) {
  torch::manual_seed(0);
  torch::nn::Linear lin(16, 3);
  lin->to(torch::kDouble);
  auto f = [&](const at::Tensor& x) { return lin->forward(x.flatten(1)); };
  const auto x = torch::rand({5, 1, 4, 4}, torch::kDouble);
  const auto y = torch::tensor({0, 1, 2, 1, 0});
  const auto start = 0.001 * torch::randn({5, 1, 4, 4}, torch::kDouble);
  const auto o = pixel_options(7);
  const auto adv = adversarial::pgd_attack(f, x, y, start, o);
  // [dial] dial.py :43-50 written out: mean CE, sign step, ball, then [0, 1].
  auto ref = (x + start).detach();
  for (int i = 0; i < 7; ++i) {
    ref.requires_grad_(true);
    const auto loss = torch::nn::functional::cross_entropy(f(ref), y);
    const auto g = torch::autograd::grad({loss}, {ref})[0];
    ref = ref.detach() + 0.03 * g.sign();
    ref = torch::min(torch::max(ref, x - 0.1), x + 0.1).clamp(0.0, 1.0);
  }
  EXPECT_LT((adv - ref).abs().max().item<double>(), 1e-12);
  EXPECT_LE((adv - x).abs().max().item<double>(), 0.1 + 1e-12);
  EXPECT_GE(adv.min().item<double>(), 0.0);
  EXPECT_LE(adv.max().item<double>(), 1.0);
  const auto ce = [&](const at::Tensor& t) { return torch::nn::functional::cross_entropy(f(t), y).item<double>(); };
  EXPECT_GT(ce(adv), ce(x)) << "the attack raises the loss";
  // A sample's attack does not depend on the batch it is in.
  const auto alone = adversarial::pgd_attack(f, x.slice(0, 2, 3), y.slice(0, 2, 3), start.slice(0, 2, 3), o);
  EXPECT_LT((alone - adv.slice(0, 2, 3)).abs().max().item<double>(), 1e-12);
}

}  // namespace
}  // namespace uda::algos
