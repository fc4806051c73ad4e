// uda collect on fabricated run directories: grouping by everything but the
// seed, mean and sample std, the three selection rules, hyper-parameter
// choice per task, and the output formats.
#include "launcher/collect_table.h"

#include "core/error.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void make_run(const std::string& dir, double lr, int seed, std::vector<double> mious, bool done = true,
              std::vector<double> train_val = {}, const std::string& algo = "source_only") {
  fs::create_directories(dir);
  uda::test::write_text(dir + "/config.json",
                        json{{"algorithm", {{"name", algo}}},
                             {"optimizer", {{"lr", lr}}},
                             {"train", {{"seed", seed}, {"max_iters", 10}}}}
                            .dump());
  std::string evals;
  for (size_t i = 0; i < mious.size(); ++i) {
    json e{{"iter", (i + 1) * 10}, {"miou", mious[i]}, {"accuracy", 0.5}};
    if (i < train_val.size()) e["train_val_miou"] = train_val[i];
    evals += e.dump() + "\n";
  }
  uda::test::write_text(dir + "/eval.jsonl", evals);
  if (done) {
    uda::test::write_text(dir + "/final_eval.json", json{{"miou", mious.back()}}.dump());
    uda::test::write_text(dir + "/DONE", "10\n");
  }
}

}  // namespace

TEST(Collect, GroupsBySeedAndComputesMeanAndSampleStd) {
  uda::test::TempDir t;
  make_run(t / "a", 1e-4, 0, {0.10, 0.30, 0.20});
  make_run(t / "b", 1e-4, 1, {0.20, 0.40, 0.10});
  make_run(t / "c", 1e-3, 0, {0.25, 0.26, 0.27});
  make_run(t / "d", 1e-3, 1, {0.35, 0.30, 0.29});
  make_run(t / "e", 1e-3, 2, {0.9}, /*done=*/false);
  const auto runs = uda::cli::read_runs(t.path());
  ASSERT_EQ(runs.size(), 5u);

  auto r = uda::cli::collect(runs, "oracle", "miou");
  EXPECT_EQ(r.hparam_keys, std::vector<std::string>{"optimizer.lr"});
  ASSERT_EQ(r.groups.size(), 2u);
  const auto& g1 = r.groups[0].hparams["optimizer.lr"] == 1e-4 ? r.groups[0] : r.groups[1];
  const auto& g2 = &g1 == &r.groups[0] ? r.groups[1] : r.groups[0];
  EXPECT_EQ(g1.values.size(), 2u);
  EXPECT_NEAR(g1.mean, 0.35, 1e-12);  // best evals 0.30 and 0.40
  EXPECT_NEAR(*g1.std, std::sqrt(0.005), 1e-12);
  EXPECT_NEAR(g2.mean, 0.31, 1e-12);  // 0.27 and 0.35
  EXPECT_TRUE(g1.selected);
  EXPECT_FALSE(g2.selected);
  ASSERT_EQ(r.notes.size(), 1u);  // the unfinished run
  EXPECT_NE(r.notes[0].find("not finished"), std::string::npos);

  r = uda::cli::collect(runs, "last", "miou");
  const auto& l1 = r.groups[0].hparams["optimizer.lr"] == 1e-4 ? r.groups[0] : r.groups[1];
  EXPECT_NEAR(l1.mean, 0.15, 1e-12);  // 0.20 and 0.10
  EXPECT_FALSE(l1.selected);          // 1e-3: (0.27 + 0.29) / 2 wins under last

  const json j = uda::cli::to_json(r);
  ASSERT_EQ(j.size(), 2u);
  for (const auto& g : j) {
    EXPECT_EQ(g["n"], 2);
    EXPECT_TRUE(g.contains("mean") && g.contains("std") && g.contains("runs") && g.contains("hparams"));
    EXPECT_EQ(g["runs"].size(), 2u);
  }
  const std::string md = uda::cli::format_markdown(r);
  EXPECT_NE(md.find("| optimizer.lr |"), std::string::npos);
  EXPECT_NE(md.find("15.00 ± 7.07 | 2 |"), std::string::npos) << md;
  const std::string csv = uda::cli::format_csv(r);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "optimizer.lr,metric,select,mean,std,n,selected");
}

TEST(Collect, TrainValPicksTheEvalWithTheBestTrainingDomainMetric) {
  uda::test::TempDir t;
  make_run(t / "a", 1e-4, 0, {0.10, 0.30, 0.20}, true, {0.5, 0.1, 0.9});
  make_run(t / "b", 1e-4, 1, {0.20, 0.40, 0.10}, true, {0.9, 0.1, 0.2});
  auto r = uda::cli::collect(uda::cli::read_runs(t.path()), "train_val", "miou");
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_NEAR(r.groups[0].mean, 0.20, 1e-12);  // 0.20 (iter 30) and 0.20 (iter 10)
  EXPECT_EQ(r.groups[0].values.size(), 2u);
}

TEST(Collect, TrainValWithoutTrainingDomainMetricExplains) {
  uda::test::TempDir t;
  make_run(t / "a", 1e-4, 0, {0.1});
  try {
    uda::cli::collect(uda::cli::read_runs(t.path()), "train_val", "miou");
    FAIL() << "no error";
  } catch (const uda::UserError& e) {
    EXPECT_NE(e.fix().find("--select oracle"), std::string::npos);
  }
}

TEST(Collect, ChoosesHyperParametersPerTask) {
  uda::test::TempDir t;
  make_run(t / "a", 1e-4, 0, {0.1}, true, {}, "dacs");
  make_run(t / "b", 1e-3, 0, {0.2}, true, {}, "dacs");
  make_run(t / "c", 1e-4, 0, {0.4}, true, {}, "source_only");
  make_run(t / "d", 1e-3, 0, {0.3}, true, {}, "source_only");
  auto r = uda::cli::collect(uda::cli::read_runs(t.path()), "last", "miou");
  EXPECT_EQ(r.task_keys, std::vector<std::string>{"algorithm.name"});
  int selected = 0;
  for (const auto& g : r.groups) {
    EXPECT_FALSE(g.std.has_value());  // n = 1
    if (!g.selected) continue;
    ++selected;
    EXPECT_EQ(g.hparams["optimizer.lr"], g.task["algorithm.name"] == "dacs" ? 1e-3 : 1e-4);
  }
  EXPECT_EQ(selected, 2);
}

TEST(Collect, PerClassMetricByClassName) {
  uda::test::TempDir t;
  for (int seed = 0; seed < 2; ++seed) {
    const std::string dir = t / ("r" + std::to_string(seed));
    make_run(dir, 1e-4, seed, {0.5});
    uda::test::write_text(dir + "/final_eval.json",
                          json{{"miou", 0.5},
                               {"classes", {"road", "person", "pole"}},
                               {"per_class_iou", {0.9, seed == 0 ? 0.2 : 0.4, nullptr}}}
                              .dump());
  }
  const auto runs = uda::cli::read_runs(t.path());
  auto r = uda::cli::collect(runs, "last", "iou.person");
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_NEAR(r.groups[0].mean, 0.3, 1e-12);
  // A class that was never present (null IoU) or is unknown leaves the runs out.
  EXPECT_TRUE(uda::cli::collect(runs, "last", "iou.pole").groups.empty());
  EXPECT_TRUE(uda::cli::collect(runs, "last", "iou.tram").groups.empty());
}
