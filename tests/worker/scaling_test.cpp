#include "core/config.h"
#include "worker/scaling.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {
uda::config::Config recipe(const std::string& rule) {
  return uda::config::from_json({{"runtime", {{"scale_rule", rule}}},
                                 {"data", {{"batch_per_rank", 2}}},
                                 {"optimizer", {{"lr", 6e-5}}},
                                 {"schedule", {{"warmup", "linear"}, {"warmup_iters", 1500}}},
                                 {"train", {{"max_iters", 40000}, {"eval_interval", 4000}}}},
                                "test");
}
}  // namespace

TEST(ScaleRule, NoneChangesNothing) {
  auto c = recipe("none");
  EXPECT_TRUE(uda::worker::apply_scale_rule(c, 8).empty());
  EXPECT_EQ(c.get<int64_t>("train.max_iters"), 40000);
}

TEST(ScaleRule, LinearScalesLrAndShortensSchedules) {
  auto c = recipe("linear");
  auto changes = uda::worker::apply_scale_rule(c, 4);  // global batch 8 vs 2: k = 4
  EXPECT_DOUBLE_EQ(c.get<double>("optimizer.lr"), 6e-5 * 4);
  EXPECT_EQ(c.get<int64_t>("train.max_iters"), 10000);
  EXPECT_EQ(c.get<int64_t>("schedule.warmup_iters"), 375);
  EXPECT_EQ(c.get<int64_t>("train.eval_interval"), 1000);
  EXPECT_GE(changes.size(), 4u);
  EXPECT_EQ(changes[0].key, "optimizer.lr");
}

TEST(ScaleRule, SqrtAndReferenceBatch) {
  auto c = recipe("sqrt");
  c.mutable_json()["runtime"]["reference_batch"] = 4;  // recipe published with batch 4
  uda::worker::apply_scale_rule(c, 8);                 // 16 / 4 = 4
  EXPECT_DOUBLE_EQ(c.get<double>("optimizer.lr"), 6e-5 * 2);
  EXPECT_EQ(c.get<int64_t>("train.max_iters"), 10000);
}

TEST(ScaleRule, EmaMomentumPerSample) {
  auto c = recipe("linear");
  c.mutable_json()["algorithm"] = {{"ema_alpha", 0.999}};
  uda::worker::apply_scale_rule(c, 2);
  EXPECT_NEAR(c.json()["algorithm"]["ema_alpha"].get<double>(), std::pow(0.999, 2), 1e-15);
}
