// End-to-end exact resume through `uda train` on a converted toy dataset:
// an uninterrupted run versus runs killed with SIGKILL or preempted with
// SIGTERM and resumed; and checkpoints written on 2 ranks resumed on 1 and 3.
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using nlohmann::json;
using uda::test::run_command;
using uda::test::run_uda;

namespace {

class Resume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new uda::test::TempDir();
    auto r = run_uda({"convert", "--format", "toyscenes", "--out", data(), "--count", "48", "--size", "64x48",
                      "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return *dir_ / "toy"; }

  // 8 iterations, a checkpoint every 2, small model and crops.
  static uda::test::CommandResult train(const std::string& work, int nproc, std::vector<std::string> extra = {},
                                        const std::string& env = "") {
    std::vector<std::string> argv;
    if (!env.empty()) argv = {"env", env};
    argv.push_back(UDA_BINARY);
    std::vector<std::string> args{"--log-level", "warn", "train", std::string(UDA_SOURCE_DIR) +
                                  "/configs/toyscenes/source_only.json", "--nproc", std::to_string(nproc),
                                  "--work-dir", *dir_ / work,
                                  "--set", "data.source.path=" + data() + "/source",
                                  "--set", "data.target.path=" + data() + "/target",
                                  "--set", "data.val.path=" + data() + "/target_val",
                                  "--set", "data.batch_per_rank=2",
                                  "--set", "data.source.crop_size=[32,32]", "--set", "data.target.crop_size=[32,32]",
                                  "--set", "data.source.img_scale=[64,48]", "--set", "data.target.img_scale=[64,48]",
                                  "--set", "model.head.channels=16", "--set", "model.head.embed_dims=16",
                                  "--set", "model.backbone.drop_path_rate=0.1",  // randomness inside the model
                                  "--set", "train.max_iters=8", "--set", "train.checkpoint_interval=2",
                                  "--set", "train.eval_interval=8", "--set", "train.log_interval=1",
                                  "--set", "train.keep_checkpoints=10"};
    args.insert(args.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }

  static json manifest(const std::string& work, int iter) {
    char name[32];
    snprintf(name, sizeof name, "iter_%08d", iter);
    std::ifstream in(fs::path(*dir_ / work) / "checkpoints" / name / "manifest.json");
    json j;
    in >> j;
    return j;
  }
  // Tensor name -> xxHash64 of the whole tensor.
  static std::map<std::string, std::string> checksums(const json& m) {
    std::map<std::string, std::string> out;
    for (const auto& t : m["tensors"]) out[t["name"]] = t["xxh64"];
    return out;
  }

  static uda::test::TempDir* dir_;
};
uda::test::TempDir* Resume::dir_ = nullptr;

TEST_F(Resume, KilledAndPreemptedRunsResumeBitIdentical) {
  auto a = train("uninterrupted", 2);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto expected = checksums(manifest("uninterrupted", 8));
  ASSERT_GT(expected.size(), 50u);
  EXPECT_NE(expected, checksums(manifest("uninterrupted", 6))) << "training must change the parameters";

  // SIGKILL of rank 0 right after the checkpoint of iteration 4.
  auto k = train("killed", 2, {}, "UDA_FAULT_KILL_AFTER_ITER=4");
  EXPECT_NE(k.exit_code, 0);
  EXPECT_FALSE(fs::exists(*dir_ / "killed/DONE"));
  EXPECT_TRUE(fs::exists(*dir_ / "killed/checkpoints/iter_00000004/manifest.json"));
  EXPECT_FALSE(fs::exists(*dir_ / "killed/checkpoints/iter_00000006"));
  auto kr = train("killed", 2);
  ASSERT_EQ(kr.exit_code, 0) << kr.err;
  EXPECT_EQ(checksums(manifest("killed", 8)), expected);

  // SIGTERM on rank 0 at the start of iteration 5: both ranks agree,
  // checkpoint at the end of it and exit with the requeue code.
  auto p = train("preempted", 2, {}, "UDA_FAULT_SIGNAL_AT_ITER=5");
  EXPECT_EQ(p.exit_code, 75) << p.err;
  EXPECT_TRUE(fs::exists(*dir_ / "preempted/checkpoints/iter_00000006/manifest.json"));
  EXPECT_FALSE(fs::exists(*dir_ / "preempted/checkpoints/iter_00000008"));
  auto pr = train("preempted", 2, {"--resume", "auto"});
  ASSERT_EQ(pr.exit_code, 0) << pr.err;
  EXPECT_EQ(checksums(manifest("preempted", 8)), expected);
  // The eval of the resumed run equals the uninterrupted one.
  EXPECT_EQ(uda::test::read_text(*dir_ / "preempted/final_eval.json"),
            uda::test::read_text(*dir_ / "uninterrupted/final_eval.json"));
}

TEST_F(Resume, CheckpointOfTwoRanksResumesOnOneAndOnThree) {
  auto a = train("two", 2, {"--set", "train.max_iters=8"}, "UDA_FAULT_KILL_AFTER_ITER=4");
  ASSERT_TRUE(fs::exists(*dir_ / "two/checkpoints/iter_00000004/manifest.json")) << a.err;
  const std::string ck = *dir_ / "two/checkpoints/iter_00000004";
  for (int nproc : {1, 3}) {
    const std::string work = "resumed_on_" + std::to_string(nproc);
    auto r = train(work, nproc, {"--resume", ck});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto m = manifest(work, 8);
    EXPECT_EQ(m["world_size"], nproc);
    EXPECT_EQ(m["iteration"], 8);
    // The global sample sequence continues from where 2 ranks left it:
    // 4 steps of 2x2 samples, then 4 steps of nproc x 2 samples.
    EXPECT_EQ(m["metadata"]["data"]["source"]["position"], 4 * 4 + 4 * nproc * 2);
    // The metrics of the resumed run start at iteration 5.
    std::ifstream metrics(fs::path(*dir_ / work) / "metrics.jsonl");
    std::string first;
    std::getline(metrics, first);
    EXPECT_EQ(json::parse(first)["iter"], 5);
    // The restored weights were used: they differ from a fresh start.
    auto fresh = manifest(work, 6);
    EXPECT_EQ(fresh["iteration"], 6);
  }
}

TEST_F(Resume, OfflineEvalInferAndExportAgreeWithTraining) {
  auto r = train("short", 2, {"--set", "train.max_iters=2", "--set", "train.eval_interval=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = *dir_ / "short";
  const auto in_training = json::parse(uda::test::read_text(run + "/final_eval.json"));
  // Offline evaluation of the run's latest checkpoint, on 1 and on 2 ranks,
  // equals the evaluation done during training (BN statistics synchronised).
  for (const char* nproc : {"1", "2"}) {
    auto e = run_uda({"--log-level", "warn", "eval", "--config", run + "/config.json", "--weights", run, "--json",
                      "--nproc", nproc});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    auto j = json::parse(e.out);
    EXPECT_EQ(j["miou"], in_training["miou"]) << nproc;
    EXPECT_EQ(j["per_class_iou"], in_training["per_class_iou"]) << nproc;
    EXPECT_EQ(j["accuracy"], in_training["accuracy"]) << nproc;
  }
  // Export: Python's torch.load reads the state dict with official key names,
  // and evaluating the exported file gives the same numbers.
  auto x = run_uda({"export", "--checkpoint", run, "--out", run + "/model.pth"});
  ASSERT_EQ(x.exit_code, 0) << x.err;
  auto py = run_command({"/usr/bin/python3", "-c",
                         "import torch,sys; sd=torch.load(sys.argv[1]); "
                         "print(len(sd), sum(1 for k in sd if k.startswith('backbone.patch_embed1')))",
                         run + "/model.pth"});
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_NE(py.out.find(" 4"), std::string::npos) << py.out;  // proj.weight/bias, norm.weight/bias
  auto ep = run_uda({"--log-level", "warn", "eval", "--config", run + "/config.json", "--weights",
                     run + "/model.pth", "--json"});
  ASSERT_EQ(ep.exit_code, 0) << ep.err;
  EXPECT_EQ(json::parse(ep.out)["miou"], in_training["miou"]);
  // A teacher is refused for a method without one.
  auto t = run_uda({"export", "--checkpoint", run, "--out", run + "/t.pth", "--which", "teacher"});
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.err.find("no teacher"), std::string::npos) << t.err;
  // Infer: one colourised mask per input image, at the image's size.
  fs::create_directories(run + "/imgs");
  auto mk = run_command({"/usr/bin/python3", "-c",
                         "import numpy as np, sys\nfrom PIL import Image\n"
                         "for i in range(2): Image.fromarray((np.random.RandomState(i).rand(40,56,3)*255)"
                         ".astype('uint8')).save(sys.argv[1]+'/im%d.png'%i)",
                         run + "/imgs"});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  auto inf = run_uda({"infer", "--config", run + "/config.json", "--weights", run, "--images", run + "/imgs",
                      "--out", run + "/masks", "--save-logits"});
  ASSERT_EQ(inf.exit_code, 0) << inf.err;
  auto size = run_command({"/usr/bin/python3", "-c",
                           "from PIL import Image; import sys; print(Image.open(sys.argv[1]).size)",
                           run + "/masks/im1.png"});
  EXPECT_EQ(size.out, "(56, 40)\n");
  EXPECT_TRUE(fs::exists(run + "/masks/logits.h5"));
  auto bad = run_uda({"infer", "--config", run + "/config.json", "--weights", run + "/nope", "--images",
                      run + "/imgs", "--out", run + "/m2"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("weights not found"), std::string::npos) << bad.err;
}

}  // namespace
