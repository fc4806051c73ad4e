// PixelDA's pictures through `uda train` and `uda report`: the source images
// and their transferred versions at every evaluation (report_images/iter_N/)
// and beside every checkpoint (samples/iter_N/, the trainer's generic hook
// for Algorithm::report_images), the same images in a resumed run, and the
// report page's rows of grids through training.
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;
using uda::test::run_command;
using uda::test::run_uda;

namespace {

const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PixelDaPictures, GridsAtEvaluationsAndCheckpointsSameAfterResumeAndInTheReport) {
  uda::test::TempDir dir;
  const fs::path root = dir.path();
  for (const auto& [domains, name] : {std::pair<const char*, const char*>{"none", "fmnist"}, {"mnistm", "fmnist_m"}}) {
    auto c = run_uda({"convert", "--format", "idx", "--domains", domains, "--src", kFashionMnist, "--out",
                      (root / "data" / name).string(), "--count", "60", "--quiet"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
  }
  auto train = [&](const std::string& run, const std::vector<std::string>& extra) {
    std::vector<std::string> argv{"env", "OMP_WAIT_POLICY=PASSIVE", UDA_BINARY, "--log-level", "warn", "train",
                                  std::string(UDA_SOURCE_DIR) + "/configs/toy/pixelda.json", "--nproc", "1",
                                  "--work-dir", (root / run).string(), "--set", "train.max_iters=4", "--set",
                                  "train.eval_interval=2", "--set", "train.checkpoint_interval=2", "--set",
                                  "algorithm.report_samples=3"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_command(argv, root.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  train("run", {});
  for (const char* kind : {"report_images", "samples"})
    for (int iter : {2, 4}) {
      const fs::path d = root / "run" / kind / ("iter_" + std::to_string(iter));
      const json index = json::parse(read(d / "index.json"));
      ASSERT_EQ(index["grids"].size(), 2u) << d;
      EXPECT_EQ(index["grids"][0]["name"], "pixelda source");
      EXPECT_EQ(index["grids"][1]["name"], "pixelda transferred");
      for (const auto& g : index["grids"]) EXPECT_GT(fs::file_size(d / g["file"].get<std::string>()), 100u);
    }
  // The generator changed between the two checkpoints; the sources did not.
  const fs::path s2 = root / "run/samples/iter_2", s4 = root / "run/samples/iter_4";
  EXPECT_EQ(read(s2 / "grid_pixelda_source.png"), read(s4 / "grid_pixelda_source.png"));
  EXPECT_NE(read(s2 / "grid_pixelda_transferred.png"), read(s4 / "grid_pixelda_transferred.png"));
  // A run resumed from iteration 2 shows the same images at iteration 4.
  train("resumed", {"--resume", (root / "run/checkpoints/iter_00000002").string()});
  const fs::path r4 = root / "resumed/samples/iter_4";
  EXPECT_EQ(read(r4 / "grid_pixelda_source.png"), read(s4 / "grid_pixelda_source.png"));
  EXPECT_EQ(read(r4 / "grid_pixelda_transferred.png"), read(s4 / "grid_pixelda_transferred.png"));

  auto report = run_uda({"report", (root / "run").string()});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const std::string html = read(root / "run/report/index.html");
  const size_t section = html.find("The algorithm's pictures through training");
  ASSERT_NE(section, std::string::npos);
  EXPECT_NE(html.find("<th>iteration 2</th>", section), std::string::npos);
  EXPECT_NE(html.find("<th>iteration 4</th>", section), std::string::npos);
  EXPECT_NE(html.find("pixelda transferred", section), std::string::npos);
}

}  // namespace
