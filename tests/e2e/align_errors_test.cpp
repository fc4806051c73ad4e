// The feature-alignment plugins (algos/align/) refuse what they cannot do
// with one-line UserErrors (exit 2) naming the key and the fix, before any
// training: a method that compares training domains given fewer than two,
// or no per-domain batches; a UDA method without a target; the
// class-weighted MMD on a source whose class statistics count no sample.
#include "tests/support/test_support.h"
#include "tests/support/user_error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;
using uda::test::run_command;
using uda::test::run_uda;

namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

class AlignErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new uda::test::TempDir();
    for (const auto& [domains, name] : {std::pair<const char*, const char*>{"rotated", "rotated_fmnist"},
                                        {"none", "fmnist"},
                                        {"mnistm", "fmnist_m"}}) {
      auto c = run_uda({"convert", "--format", "idx", "--domains", domains, "--src", kFashionMnist, "--out",
                        *dir_ / (std::string("data/") + name), "--count", "120", "--quiet"});
      ASSERT_EQ(c.exit_code, 0) << c.err;
    }
    // A copy of the source whose class statistics count no sample.
    fs::copy(*dir_ / "data/fmnist", *dir_ / "data/fmnist_nostats", fs::copy_options::recursive);
    const fs::path stats = *dir_ / "data/fmnist_nostats/class_stats.json";
    json j;
    std::ifstream(stats) >> j;
    for (auto& row : j["per_image"])
      for (auto& v : row) v = 0;
    std::ofstream(stats) << j.dump();
  }
  static void TearDownTestSuite() { delete dir_; }

  // `uda train` of a toy config with overrides: must fail with exit 2 and
  // one line that names `key` and holds `fix`.
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
uda::test::TempDir* AlignErrors::dir_ = nullptr;
int AlignErrors::runs_ = 0;

TEST_F(AlignErrors, PairMethodsNeedTwoTrainingDomains) {
  for (const char* algo : {"mmd", "dann"})
    expect_user_error(algo, {"data.source.path=data/rotated_fmnist", "data.test_domains=[0,1,2,3,4]"},
                      "data.test_domains", "hold out fewer domains");
  expect_user_error("coral",
                    {"data.source.path=data/rotated_fmnist", "model.num_classes=10", "model.in_channels=1",
                     "data.source.per_domain_batches=false"},
                    "data.source.per_domain_batches", "set data.source.per_domain_batches=true");
}

TEST_F(AlignErrors, UdaMethodsNeedATarget) {
  expect_user_error("dan", {"data.target.path="}, "data.target.path", "set data.target.path");
}

TEST_F(AlignErrors, ClassWeightedMmdNeedsTheSourceClassStatistics) {
  expect_user_error("cwmmd", {"data.source.path=data/fmnist_nostats"}, "data.source.path",
                    "re-convert the source with uda convert");
  expect_user_error("cwmmd", {"data.source.sampler=rcs", "data.source.rcs.min_pixels=0"}, "data.source.sampler",
                    "use shuffle");
}

}  // namespace
