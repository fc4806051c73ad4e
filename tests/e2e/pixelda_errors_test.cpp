// PixelDA (algos/gan/pixelda.cpp) refuses what its generator cannot do with
// one-line UserErrors (exit 2) naming the key and the fix: source and target
// images of different channel counts or sizes, images of another size than
// algorithm.image_size, a noise dimension <= 0, the depth-masked similarity
// on images without a depth channel.
#include "tests/support/test_support.h"
#include "tests/support/user_error.h"

#include <gtest/gtest.h>

#include <sstream>

using uda::test::run_command;
using uda::test::run_uda;

namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

class PixelDaErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new uda::test::TempDir();
    for (const auto& [domains, name] : {std::pair<const char*, const char*>{"none", "fmnist"}, {"mnistm", "fmnist_m"}}) {
      auto c = run_uda({"convert", "--format", "idx", "--domains", domains, "--src", kFashionMnist, "--out",
                        *dir_ / (std::string("data/") + name), "--count", "60", "--quiet"});
      ASSERT_EQ(c.exit_code, 0) << c.err;
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  void expect_user_error(std::vector<std::string> sets, const std::string& key, const std::string& fix) {
    sets.insert(sets.begin(), "train.max_iters=1");
    auto r = uda::test::train_toy("pixelda", sets, *dir_ / ("run-" + std::to_string(++runs_)), dir_->path());
    uda::test::expect_user_error_line(r, key, fix, "pixelda");
  }

  static uda::test::TempDir* dir_;
  static int runs_;
};
uda::test::TempDir* PixelDaErrors::dir_ = nullptr;
int PixelDaErrors::runs_ = 0;

TEST_F(PixelDaErrors, SourceAndTargetChannelsDiffer) {
  // The grey Fashion-MNIST as it is (1 channel) against the RGB target.
  expect_user_error({"data.source.channels=0"}, "data.source.channels", "give both the same channels");
}

TEST_F(PixelDaErrors, SourceAndTargetSizesDiffer) {
  expect_user_error({"data.target.crop_size=[24,24]"}, "data.target.crop_size",
                    "convert or crop both domains to the same size");
}

TEST_F(PixelDaErrors, ImagesOfAnotherSizeThanTheGenerator) {
  expect_user_error({"algorithm.image_size=[32,32]"}, "algorithm.image_size", "set algorithm.image_size=[28,28]");
}

TEST_F(PixelDaErrors, NoiseDimensionMustBePositive) {
  expect_user_error({"algorithm.noise_dims=0"}, "algorithm.noise_dims", "use a positive dimension");
  expect_user_error({"algorithm.noise_dims=-3"}, "algorithm.noise_dims", "use a positive dimension");
}

TEST_F(PixelDaErrors, MaskedSimilarityNeedsADepthChannel) {
  expect_user_error({"algorithm.transferred_similarity_loss=masked_mpse"}, "algorithm.transferred_similarity_loss",
                    "use mpse");
}

}  // namespace
