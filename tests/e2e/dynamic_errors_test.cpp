// Input-conditioned convolutions, DMG and DIAL refuse bad input with
// one-line UserErrors (exit 2) naming the key and the fix, before any
// training: fewer than one expert, a layer or masked point the backbone
// lacks, DMG given a single training domain, PGD with fewer than one step
// (training's or evaluation's). DIAL's robust accuracy at evaluation.
// And the world-size promise of the dynamic layers (not an algorithm, so
// not in the registry test): ERM with dynamic / CondConv convolutions on
// 2 ranks x b against 1 rank x 2b, and the temperature in the checkpoint.
#include "tests/support/test_support.h"
#include "tests/support/user_error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <iostream>
#include <sstream>

using uda::test::run_command;
using uda::test::run_uda;

namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

class DynamicErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new uda::test::TempDir();
    auto c = run_uda({"convert", "--format", "idx", "--domains", "rotated", "--src", kFashionMnist, "--out",
                      *dir_ / "data/rotated_fmnist", "--count", "120", "--quiet"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  // `uda train` of a toy config with overrides: must fail with exit 2 and
  // one line that names `key` and holds `fix`.
  void expect_user_error(const std::string& algo, const std::vector<std::string>& sets, const std::string& key,
                         const std::string& fix) {
    auto r = uda::test::train_toy(algo, sets, *dir_ / ("run-" + algo + "-" + std::to_string(++runs_)), dir_->path());
    uda::test::expect_user_error_line(r, key, fix, algo);
  }

  static uda::test::TempDir* dir_;
  static int runs_;
};
uda::test::TempDir* DynamicErrors::dir_ = nullptr;
int DynamicErrors::runs_ = 0;

TEST_F(DynamicErrors, ExpertsAndLayers) {
  expect_user_error("erm", {"model.conv.type=dynamic", "model.conv.experts=0"}, "model.conv.experts", "use 4");
  expect_user_error("erm", {"model.conv.type=condconv", "model.conv.layers=[\"layer3\"]"}, "model.conv.layers",
                    "conv1, conv2, conv3, conv4");
}

TEST_F(DynamicErrors, DmgPointsAndDomains) {
  expect_user_error("dmg", {"algorithm.dmg_layers=[\"layer3\",\"fc\"]"}, "algorithm.dmg_layers",
                    "conv1, conv2, conv3, conv4, fc");
  expect_user_error("dmg", {"data.test_domains=[0,1,2,3,4]"}, "data.test_domains", "hold out fewer domains");
}

TEST_F(DynamicErrors, DynamicLayersKeepTheWorldSizePromise) {
  for (const std::string type : {"dynamic", "condconv"}) {
    auto train = [&](const std::string& name, int nproc, int batch, int threads) {
      const std::string work = *dir_ / ("ws-" + type + "-" + name);
      auto r = run_command({"env", "OMP_WAIT_POLICY=PASSIVE", UDA_BINARY, "--log-level", "warn", "train",
                            std::string(UDA_SOURCE_DIR) + "/configs/toy/erm.json", "--nproc", std::to_string(nproc),
                            "--work-dir", work, "--set", "model.conv.type=" + type, "--set",
                            "model.conv.temperature_iters=4", "--set", "data.batch_per_rank=" + std::to_string(batch),
                            "--set", "runtime.intra_op_threads=" + std::to_string(threads)},
                           dir_->path());
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return work + "/checkpoints/iter_00000006";
    };
    const auto reference = train("1x4", 1, 4, 1), threads = train("1x4-2threads", 1, 4, 2),
               ranks = train("2x2", 2, 2, 1);
    auto diff = [](const std::string& a, const std::string& b) {
      auto r = run_uda({"diff", a, b, "--json"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return nlohmann::json::parse(r.out);
    };
    const auto floor = diff(threads, reference), d = diff(ranks, reference);
    std::cout << "[world-size] erm + " << type << " @6: L2 " << d["relative_l2"] << " (floor " << floor["relative_l2"]
              << ")\n";
    EXPECT_LE(d["relative_l2"].get<double>(), std::max(10 * floor["relative_l2"].get<double>(), 1e-3)) << type;
    EXPECT_LE(d["max_relative"].get<double>(), std::max(10 * floor["max_relative"].get<double>(), 2e-2)) << type;
  }
}

TEST_F(DynamicErrors, DialNeedsPgdSteps) {
  expect_user_error("dial", {"algorithm.pgd_steps=0"}, "algorithm.pgd_steps", "use 40");
  expect_user_error("dial", {"train.eval_attack=pgd", "train.eval_attack_steps=0"}, "train.eval_attack_steps",
                    "DIAL MNIST: 40");
  // Refused at setup, not at the first evaluation: no training step ran.
  const std::filesystem::path run = *dir_ / ("run-dial-" + std::to_string(runs_));
  EXPECT_FALSE(std::filesystem::exists(run / "checkpoints" / "iter_00000001")) << run;
  EXPECT_TRUE(std::filesystem::exists(run)) << "the run directory the check looks at";
}

// DIAL's robust accuracy (train.eval_attack = pgd, worker/robust_eval.h):
// training writes the attacked accuracies next to the natural ones, and
// `uda eval` of the same weights gives the same attacked accuracies on 1
// and on 2 ranks (each image's random start is its own).
TEST_F(DynamicErrors, DialRobustAccuracyIsTheSameOnOneAndTwoRanks) {
  const std::string run = *dir_ / "dial-pgd";
  const std::vector<std::string> attack{"--set", "train.eval_attack=pgd", "--set", "train.eval_attack_steps=3"};
  std::vector<std::string> argv{"env", "OMP_WAIT_POLICY=PASSIVE", UDA_BINARY, "--log-level", "warn", "train",
                                std::string(UDA_SOURCE_DIR) + "/configs/toy/dial.json", "--nproc", "1",
                                "--work-dir", run, "--set", "train.max_iters=2", "--set", "algorithm.pgd_steps=2"};
  argv.insert(argv.end(), attack.begin(), attack.end());
  auto r = run_command(argv, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(run + "/eval.jsonl");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  const auto trained = nlohmann::json::parse(last);
  ASSERT_TRUE(trained["pgd_test_domain_acc"].is_number()) << last;
  ASSERT_TRUE(trained["env1_in_pgd_acc"].is_number()) << last;
  auto evaluate = [&](int nproc) {
    std::vector<std::string> a{"eval", "--config", run + "/config.json", "--weights", run,
                               "--nproc", std::to_string(nproc), "--json"};
    a.insert(a.end(), attack.begin(), attack.end());
    auto e = run_uda(a, dir_->path());
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return nlohmann::json::parse(e.out);
  };
  const auto one = evaluate(1), two = evaluate(2);
  int compared = 0;
  for (const auto& [key, value] : one.items())
    if (key.find("pgd") != std::string::npos) {
      EXPECT_EQ(two[key], value) << key;
      ++compared;
    }
  EXPECT_GE(compared, 20);  // 6 domains x 2 splits x 2 metrics + the summaries
  EXPECT_EQ(one["pgd_test_domain_acc"], trained["pgd_test_domain_acc"]);
}

}  // namespace
