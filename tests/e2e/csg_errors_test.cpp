// CSG (algos/contrastive/) refuses bad input with one-line UserErrors
// (exit 2) naming the key or file and the fix, before training: csg_seg on
// a non-DeepLabV2 segmentor, a selected
// stage the backbone lacks (resnet18 has 4; mnist_cnn exposes none), a queue
// size that is not positive, and a key backbone file with missing or extra
// keys (files written by `uda export` of classifiers trained here: a
// resnet18 file for a resnet34 key network lacks its keys, a resnet34 file
// for a resnet18 one has extra keys). The last case also shows the intended
// use: a backbone uda pretrains on another task and exports loads as the
// key network of a resnet18 CSG run (exit 0).
#include "tests/support/test_support.h"
#include "tests/support/user_error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using uda::test::run_command;
using uda::test::run_uda;

namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

class CsgErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new uda::test::TempDir();
    auto c = run_uda({"convert", "--format", "idx", "--domains", "rotated", "--src", kFashionMnist, "--out",
                      *dir_ / "data/rotated_fmnist", "--count", "120", "--quiet"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto scenes = run_uda({"convert", "--format", "toyscenes", "--out", *dir_ / "data/toyscenes", "--count", "16",
                           "--size", "64x48", "--quiet"});
    ASSERT_EQ(scenes.exit_code, 0) << scenes.err;
    // Two backbones pretrained by uda on another task (ERM on the rotated
    // domains, one step), exported as state dicts.
    for (const char* backbone : {"resnet18", "resnet34"}) {
      const std::string run = *dir_ / (std::string("pre-") + backbone);
      auto t = train("erm", {std::string("model.backbone.type=") + backbone, "train.max_iters=1",
                             "train.eval_interval=1000", "data.batch_per_rank=2"},
                     run);
      ASSERT_EQ(t.exit_code, 0) << t.err;
      auto e = run_uda({"export", "--checkpoint", run, "--out", *dir_ / (std::string(backbone) + ".pth")});
      ASSERT_EQ(e.exit_code, 0) << e.err;
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static uda::test::CommandResult train(const std::string& config, const std::vector<std::string>& sets,
                                        const fs::path& work_dir) {
    return uda::test::train_toy(config, sets, work_dir.string(), dir_->path());
  }

  void expect_user_error(const std::vector<std::string>& sets, const std::string& key, const std::string& fix,
                         const std::string& config = "csg") {
    auto r = train(config, sets, *dir_ / ("run-" + std::to_string(++runs_)));
    uda::test::expect_user_error_line(r, key, fix, config);
  }

  static uda::test::TempDir* dir_;
  static int runs_;
};
uda::test::TempDir* CsgErrors::dir_ = nullptr;
int CsgErrors::runs_ = 0;

TEST_F(CsgErrors, StageTheBackboneLacks) {
  expect_user_error({"algorithm.csg_stages=[3,5]"}, "algorithm.csg_stages", "choose stages among 1..4");
  expect_user_error({"model.backbone.type=mnist_cnn"}, "algorithm.csg_stages", "use a ResNet backbone");
}

TEST_F(CsgErrors, SegmentationNeedsDeepLabV2) {
  // MiT stage maps are LayerNorm outputs (signed): A-Pool cannot weight them.
  expect_user_error({"model.backbone.type=mit_b0", "model.head.type=daformer"}, "model.head.type",
                    "set model.head.type=deeplabv2", "csg_seg");
}

TEST_F(CsgErrors, QueueSizeNotPositive) {
  expect_user_error({"algorithm.csg_queue_size=0"}, "algorithm.csg_queue_size", "set a positive size");
  expect_user_error({"algorithm.csg_queue_size=-5"}, "algorithm.csg_queue_size", "set a positive size");
  // Smaller than one step's keys (5 domains x 4): named at the first enqueue.
  expect_user_error({"algorithm.csg_queue_size=10"}, "algorithm.csg_queue_size", "at least the global batch");
}

TEST_F(CsgErrors, KeyBackboneWithMissingOrExtraKeys) {
  const std::string r18 = *dir_ / "resnet18.pth", r34 = *dir_ / "resnet34.pth";
  expect_user_error({"model.backbone.type=resnet34", "algorithm.csg_key_backbone=" + r18}, "resnet18.pth lacks",
                    "algorithm.csg_key_backbone");
  expect_user_error({"algorithm.csg_key_backbone=" + r34}, "resnet34.pth has extra", "algorithm.csg_key_backbone");
  expect_user_error({"algorithm.csg_key_backbone=" + (*dir_ / "nowhere.pth")}, "nowhere.pth", "");
  // The matching file loads: one CSG step with the exported resnet18 as key network.
  auto ok = train("csg", {"algorithm.csg_key_backbone=" + r18, "train.max_iters=1", "train.eval_interval=1000",
                          "data.batch_per_rank=2"},
                  *dir_ / "run-ok");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// algorithm.csg_train_heads=false (the official segmentation code's
// optimizer leaves the projection heads out): the heads do not move, nor
// their EMA key copies (beyond float rounding), while the network does; by
// default they train.
TEST_F(CsgErrors, FrozenProjectionHeadsStayAtTheirInitialisation) {
  auto changes = [&](const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> sets{"train.max_iters=2", "train.eval_interval=1000", "data.batch_per_rank=2"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    const fs::path run = *dir_ / name;
    auto r = train("csg", sets, run);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto d = run_uda({"diff", (run / "checkpoints/iter_00000001").string(), (run / "checkpoints/iter_00000002").string(),
                      "--json"});
    EXPECT_EQ(d.exit_code, 0) << d.err;
    std::map<std::string, double> heads, network;  // largest relative change per group
    const auto diff = nlohmann::json::parse(d.out);
    for (const auto& t : diff["tensors"]) {
      const std::string n = t["name"];
      const double rel = t["relative"];
      auto& group = n.rfind("csg_heads.", 0) == 0 || n.rfind("csg_key_heads.", 0) == 0 ? heads : network;
      const std::string key = n.rfind("model.", 0) == 0 ? "model" : n.substr(0, n.find('.'));
      group[key] = std::max(group[key], rel);
    }
    return std::make_pair(heads, network);
  };
  const auto [frozen_heads, frozen_net] = changes("heads-frozen", {"algorithm.csg_train_heads=false"});
  ASSERT_EQ(frozen_heads.size(), 2u) << "csg_heads and csg_key_heads in the checkpoint";
  EXPECT_EQ(frozen_heads.at("csg_heads"), 0.0);
  // The EMA m k + (1 - m) q of k == q moves k by float rounding only.
  EXPECT_LE(frozen_heads.at("csg_key_heads"), 1e-6);
  EXPECT_GT(frozen_net.at("model"), 0.0);
  const auto [trained_heads, trained_net] = changes("heads-trained", {});
  EXPECT_GT(trained_heads.at("csg_heads"), 0.0);
  EXPECT_GT(trained_heads.at("csg_key_heads"), 0.0);
}

}  // namespace
