// Sweep expansion: grid x random draws x seeds, in a fixed order, with
// seeded deterministic draws; errors name the offending key.
#include "launcher/sweep_spec.h"

#include "core/error.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

using nlohmann::json;
using uda::cli::expand;
using uda::cli::parse_sweep;

namespace {

const std::string kBase = std::string(UDA_SOURCE_DIR) + "/configs/toyscenes/source_only.json";

json doc() {
  return json{{"name", "t"},
              {"base", kBase},
              {"set", {{"train.max_iters", 4}}},
              {"grid", {{"optimizer.lr", {1e-4, 6e-5}}, {"algorithm.name", {"source_only"}}}},
              {"random", {{"n", 3}, {"seed", 7}, {"space", {{"a.log", {{"log_uniform", {1e-3, 1e-1}}}},
                                                            {"a.uni", {{"uniform", {0.0, 1.0}}}},
                                                            {"a.int", {{"int_uniform", {1, 4}}}},
                                                            {"a.choice", {{"choice", {"x", "y"}}}}}}}},
              {"seeds", {0, 1}},
              {"nproc", 2}};
}

}  // namespace

TEST(SweepSpec, ExpandsGridTimesRandomTimesSeeds) {
  const auto spec = parse_sweep(doc(), "sweep.json");
  EXPECT_EQ(spec.nproc, 2);
  const auto pts = expand(spec);
  ASSERT_EQ(pts.size(), 2u * 1u * 3u * 2u);
  // Order: fixed overrides, grid keys (sorted), random keys (sorted), seed.
  const auto& o = pts[0].overrides;
  ASSERT_EQ(o.size(), 1u + 2u + 4u + 1u);
  EXPECT_EQ(o[0].first, "train.max_iters");
  EXPECT_EQ(o[1].first, "algorithm.name");
  EXPECT_EQ(o[2].first, "optimizer.lr");
  EXPECT_EQ(o.back().first, "train.seed");
  // Seeds vary fastest, then draws, then the grid.
  EXPECT_EQ(pts[0].seed, 0);
  EXPECT_EQ(pts[1].seed, 1);
  EXPECT_EQ(pts[0].hparams, pts[1].hparams);
  EXPECT_NE(pts[0].hparams, pts[2].hparams);
  EXPECT_EQ(pts[0].hparams["optimizer.lr"], 1e-4);
  EXPECT_EQ(pts[6].hparams["optimizer.lr"], 6e-5);
  // The same draws for every grid point; hparams leave out fixed keys and seed.
  for (const char* k : {"a.log", "a.uni", "a.int", "a.choice"}) EXPECT_EQ(pts[0].hparams[k], pts[6].hparams[k]);
  EXPECT_FALSE(pts[0].hparams.contains("train.seed"));
  EXPECT_FALSE(pts[0].hparams.contains("train.max_iters"));
  std::set<std::string> keys;
  for (const auto& p : pts) keys.insert(json(p.set_args()).dump());
  EXPECT_EQ(keys.size(), pts.size());
}

TEST(SweepSpec, DrawsAreSeededInRangeAndDeterministic) {
  const auto a = expand(parse_sweep(doc(), "s.json"));
  const auto b = expand(parse_sweep(doc(), "s.json"));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].set_args(), b[i].set_args());
  for (const auto& p : a) {
    const double l = p.hparams["a.log"].get<double>();
    EXPECT_GE(l, 1e-3);
    EXPECT_LE(l, 1e-1);
    EXPECT_GE(p.hparams["a.uni"].get<double>(), 0.0);
    EXPECT_LT(p.hparams["a.uni"].get<double>(), 1.0);
    const auto n = p.hparams["a.int"].get<int64_t>();
    EXPECT_TRUE(n >= 1 && n <= 4);
    EXPECT_TRUE(p.hparams["a.choice"] == "x" || p.hparams["a.choice"] == "y");
  }
  auto d = doc();
  d["random"]["seed"] = 8;
  const auto c = expand(parse_sweep(d, "s.json"));
  EXPECT_NE(c[0].hparams["a.log"], a[0].hparams["a.log"]);
}

TEST(SweepSpec, SetArgsAreJsonValues) {
  auto d = doc();
  d.erase("random");
  d["grid"] = {{"model.name", {"with space"}}};
  const auto p = expand(parse_sweep(d, "s.json"));
  EXPECT_EQ(p[0].set_args()[1], "model.name=\"with space\"");
  EXPECT_EQ(p[0].set_args().back(), "train.seed=0");
}

TEST(SweepSpec, NoGridNoSeedsIsOneRun) {
  const auto p = expand(parse_sweep(json{{"base", kBase}}, "s.json"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].seed.is_null());
}

TEST(SweepSpec, ErrorsNameTheKey) {
  auto bad = [](json d, const std::string& where) {
    try {
      expand(parse_sweep(d, "s.json"));
      ADD_FAILURE() << "no error for " << d.dump();
    } catch (const uda::UserError& e) {
      EXPECT_NE(e.where().find(where), std::string::npos) << e.where();
    }
  };
  bad(json{{"base", kBase}, {"grdi", json::object()}}, "s.json");
  bad(json{{"base", "/nonexistent.json"}}, "base");
  bad(json{{"base", kBase}, {"grid", {{"optimizer.lr", json::array()}}}}, "grid.optimizer.lr");
  bad(json{{"base", kBase}, {"random", {{"n", 2}, {"space", {{"k", {{"gauss", {0, 1}}}}}}}}}, "random.space.k");
  bad(json{{"base", kBase}, {"random", {{"n", 2}, {"space", {{"k", {{"log_uniform", {0, 1}}}}}}}}}, "random.space.k");
  bad(json{{"base", kBase}, {"seeds", {"a"}}}, "seeds");
  bad(json{{"base", kBase}, {"executor", "k8s"}}, "executor");
}
