// `uda sweep --dry-run`: run directories named by the hash of each resolved
// config, the same on every invocation; nothing is written.
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <sstream>

TEST(SweepCli, DryRunListsDeterministicHashedRuns) {
  uda::test::TempDir t;
  const std::string sweep = t / "s.json";
  uda::test::write_text(sweep, nlohmann::json{{"name", "t"},
                                              {"base", std::string(UDA_SOURCE_DIR) + "/configs/toyscenes/source_only.json"},
                                              {"grid", {{"optimizer.lr", {1e-4, 1e-3}}}},
                                              {"random", {{"n", 2}, {"space", {{"train.max_iters", {{"int_uniform", {5, 50}}}}}}}},
                                              {"seeds", {0, 1}}}
                                   .dump());
  auto a = uda::test::run_uda({"sweep", sweep, "--work-dir", t / "w", "--dry-run"});
  auto b = uda::test::run_uda({"sweep", sweep, "--work-dir", t / "w", "--dry-run"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  std::istringstream lines(a.out);
  std::set<std::string> hashes;
  for (std::string line; std::getline(lines, line);) {
    const std::string h = line.substr(0, line.find(' '));
    EXPECT_EQ(h.size(), 16u) << line;
    EXPECT_NE(line.find("launch pending"), std::string::npos) << line;
    hashes.insert(h);
  }
  EXPECT_EQ(hashes.size(), 8u) << a.out;
  EXPECT_FALSE(std::filesystem::exists(t / "w"));
}
