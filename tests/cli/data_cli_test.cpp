// `uda convert` and `uda stats`: exit codes, one-line errors, JSON output.
#include "tests/support/test_support.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

using uda::test::run_uda;
using uda::test::TempDir;

namespace {
void expect_one_line_user_error(const uda::test::CommandResult& r) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("uda: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line expected: " << r.err;
}
}  // namespace

TEST(DataCli, ToyscenesConvertThenStatsJson) {
  TempDir tmp;
  auto r = run_uda({"convert", "--format", "toyscenes", "--out", tmp / "toy", "--count", "30", "--seed", "2",
                    "--jobs", "2", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* sub : {"source", "target", "target_val"})
    EXPECT_TRUE(std::filesystem::exists(tmp / (std::string("toy/") + sub + "/manifest.json"))) << sub;

  auto s = run_uda({"stats", tmp / "toy/source", "--json", "--rcs-temp", "0.1", "--min-pixels", "10"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto j = nlohmann::json::parse(s.out);
  EXPECT_EQ(j["num_images"], 30);
  ASSERT_EQ(j["classes"].size(), 19u);
  for (const char* key : {"pixel_count", "freq", "images_with_class", "rcs_prob"})
    EXPECT_EQ(j[key].size(), 19u) << key;
  double sum = 0;
  for (size_t c = 0; c < 19; ++c) {
    sum += j["rcs_prob"][c].get<double>();
    if (j["pixel_count"][c].get<int64_t>() == 0) {
      EXPECT_EQ(j["rcs_prob"][c].get<double>(), 0.0) << c;
    }
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(j["classes"][13], "car");

  // Table form, and the DAFormer export.
  auto t = run_uda({"stats", tmp / "toy/source", "--export-daformer", tmp / "daf"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("vegetation"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(tmp / "daf/sample_class_stats.json"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "daf/samples_with_class.json"));

  // Re-running the same conversion is a no-op success (resume of a complete set).
  auto again = run_uda({"convert", "--format", "toyscenes", "--out", tmp / "toy", "--count", "30", "--seed", "2",
                        "--quiet"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  // Different options on the same --out are refused.
  expect_one_line_user_error(
      run_uda({"convert", "--format", "toyscenes", "--out", tmp / "toy", "--count", "31", "--quiet"}));
}

TEST(DataCli, BadInputsExitTwoWithOneLine) {
  TempDir tmp;
  expect_one_line_user_error(run_uda({"convert", "--format", "nope", "--src", tmp.path(), "--out", tmp / "o"}));
  expect_one_line_user_error(run_uda({"convert", "--format", "gta5", "--src", tmp / "missing", "--out", tmp / "o"}));
  expect_one_line_user_error(run_uda({"convert", "--format", "gta5", "--src", tmp.path(), "--out", tmp / "o2"}));
  expect_one_line_user_error(run_uda({"stats", tmp / "not-a-dataset"}));
  expect_one_line_user_error(run_uda({"convert", "--format", "toyscenes", "--out", tmp / "t", "--size", "12by9"}));
}

TEST(DataCli, CorruptShardIsReportedByStatsVerify) {
  TempDir tmp;
  ASSERT_EQ(run_uda({"convert", "--format", "toyscenes", "--out", tmp / "toy", "--count", "10", "--quiet"}).exit_code,
            0);
  std::string shard = tmp / "toy/target/shard-00000.h5";
  std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 100);
  auto r = run_uda({"stats", tmp / "toy/target", "--verify"});
  expect_one_line_user_error(r);
  EXPECT_NE(r.err.find("shard-00000.h5"), std::string::npos) << r.err;
}

TEST(DataCli, DomainSuiteMistakesExitTwoWithOneLine) {
  TempDir tmp;
  namespace fs = std::filesystem;
  // A class folder missing in one domain: the line names it and the fix.
  for (const char* dir : {"pacs/art_painting/dog", "pacs/photo/dog", "pacs/photo/horse"}) fs::create_directories(tmp / dir);
  auto r = run_uda({"convert", "--format", "imagefolder", "--src", tmp / "pacs", "--out", tmp / "o1", "--quiet"});
  expect_one_line_user_error(r);
  EXPECT_NE(r.err.find(tmp / "pacs/art_painting/horse"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("create it empty"), std::string::npos) << r.err;
  // A VisDA-2017 image_list.txt line naming a missing image.
  fs::create_directories(tmp / "visda/train/aeroplane");
  uda::test::write_text(tmp / "visda/train/image_list.txt", "aeroplane/gone.png 0\n");
  r = run_uda({"convert", "--format", "imagefolder", "--src", tmp / "visda", "--out", tmp / "o2", "--quiet"});
  expect_one_line_user_error(r);
  EXPECT_NE(r.err.find("image_list.txt:1"), std::string::npos) << r.err;
  // An unknown --domains construction.
  r = run_uda({"convert", "--format", "idx", "--src", tmp.path(), "--domains", "rotate", "--out", tmp / "o3", "--quiet"});
  expect_one_line_user_error(r);
  EXPECT_NE(r.err.find("--domains"), std::string::npos) << r.err;
}
