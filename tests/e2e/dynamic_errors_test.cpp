// Input-conditioned convolutions, DMG and DIAL refuse bad input with
// one-line UserErrors (exit 2) naming the key and the fix, before any
// training: fewer than one expert, a layer or masked point the backbone
// lacks, DMG given a single training domain, PGD with fewer than one step.
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

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

  void expect_user_error(const std::string& algo, const std::vector<std::string>& sets, const std::string& key,
                         const std::string& fix) {
    std::vector<std::string> argv{"env", "OMP_WAIT_POLICY=PASSIVE", UDA_BINARY, "--log-level", "warn", "train",
                                  std::string(UDA_SOURCE_DIR) + "/configs/toy/" + algo + ".json", "--nproc", "1",
                                  "--work-dir", *dir_ / ("run-" + algo + "-" + std::to_string(++runs_))};
    for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
    auto r = run_command(argv, dir_->path());
    EXPECT_EQ(r.exit_code, 2) << algo << ": " << r.err;
    std::string line;
    for (std::istringstream in(r.err); std::getline(in, line);)
      if (line.find("uda: error: ") != std::string::npos) break;
    EXPECT_NE(line.find("uda: error: "), std::string::npos) << r.err;
    EXPECT_NE(line.find(key), std::string::npos) << line;
    EXPECT_NE(line.find(fix), std::string::npos) << line;
    std::cout << "[error] " << algo << ": " << line << "\n";
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

TEST_F(DynamicErrors, DialNeedsPgdSteps) {
  expect_user_error("dial", {"algorithm.pgd_steps=0"}, "algorithm.pgd_steps", "use 40");
}

}  // namespace
