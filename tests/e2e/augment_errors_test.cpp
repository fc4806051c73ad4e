// The single-source DG plugins (algos/augment/) and ASR-Norm refuse bad
// settings with one-line UserErrors (exit 2) naming the key and the fix,
// before any training: negative ascent steps or phases, a feature layer
// the network lacks, StableNet without Fourier frequencies, ASR-Norm on a
// network that does not have it.
#include "tests/support/test_support.h"
#include "tests/support/user_error.h"

#include <gtest/gtest.h>

#include <sstream>

using uda::test::run_command;
using uda::test::run_uda;

namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

class AugmentErrors : public ::testing::Test {
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
uda::test::TempDir* AugmentErrors::dir_ = nullptr;
int AugmentErrors::runs_ = 0;

TEST_F(AugmentErrors, AdaSettings) {
  for (const char* algo : {"ada", "m_ada"}) {
    expect_user_error(algo, {"algorithm.ada_t_adv=-1"}, "algorithm.ada_t_adv", "0 = the official default");
    expect_user_error(algo, {"algorithm.ada_k=-2"}, "algorithm.ada_k", "0 = the official default");
    expect_user_error(algo, {"algorithm.ada_feature_layer=fc9"}, "algorithm.ada_feature_layer", "use `features`");
  }
}

TEST_F(AugmentErrors, StableNetSettings) {
  expect_user_error("stablenet", {"algorithm.stablenet_num_f=0"}, "algorithm.stablenet_num_f", "official 1");
  expect_user_error("stablenet", {"algorithm.stablenet_epochs=-1"}, "algorithm.stablenet_epochs", "official 20");
}

}  // namespace
