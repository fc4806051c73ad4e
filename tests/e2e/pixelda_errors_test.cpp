// PixelDA (algos/gan/pixelda.cpp) refuses what its generator cannot do with
// one-line UserErrors (exit 2) naming the key and the fix: source and target
// images of different channel counts or sizes, images of another size than
// algorithm.image_size, a noise dimension <= 0, the depth-masked similarity
// on images without a depth channel.
#include "tests/support/test_support.h"

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

  void expect_user_error(const std::vector<std::string>& sets, const std::string& key, const std::string& fix) {
    std::vector<std::string> argv{"env", "OMP_WAIT_POLICY=PASSIVE", UDA_BINARY, "--log-level", "warn", "train",
                                  std::string(UDA_SOURCE_DIR) + "/configs/toy/pixelda.json", "--nproc", "1",
                                  "--work-dir", *dir_ / ("run-" + std::to_string(++runs_)),
                                  "--set", "train.max_iters=1"};
    for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
    auto r = run_command(argv, dir_->path());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    std::string line;
    int lines = 0;
    for (std::istringstream in(r.err); std::getline(in, line);)
      if (line.find("uda: error: ") != std::string::npos) {
        ++lines;
        break;
      }
    EXPECT_EQ(lines, 1) << r.err;
    EXPECT_NE(line.find(key), std::string::npos) << line;
    EXPECT_NE(line.find(fix), std::string::npos) << line;
    std::cout << "[error] " << line << "\n";
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
