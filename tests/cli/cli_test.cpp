#include "uda/build_info.h"
#include "tests/support/test_support.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>

using uda::test::run_uda;
using uda::test::TempDir;
using uda::test::write_text;

TEST(Cli, VersionNamesEveryLibrary) {
  auto r = run_uda({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* lib : {"uda ", "libtorch ", "MPI ", "HDF5 ", "NCCL "})
    EXPECT_NE(r.out.find(lib), std::string::npos) << lib << " missing in: " << r.out;
  // A CUDA libtorch names the CUDA it was built with and the NCCL version
  // loaded (e.g. "built with CUDA 13.0", "NCCL 2.28.9 (backend compiled in)").
#if UDA_HAVE_CUDA
  EXPECT_NE(r.out.find(", built with CUDA "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(backend compiled in)"), std::string::npos) << r.out;
#else
  EXPECT_NE(r.out.find(", CPU-only build"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NCCL backend not compiled"), std::string::npos) << r.out;
#endif
}

TEST(Cli, HelpListsSubcommandsAndExitsZero) {
  auto r = run_uda({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"convert", "stats", "train", "eval", "infer", "export", "sweep", "collect", "report",
                          "demo", "config"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
}

TEST(Cli, NoSubcommandIsAUserError) {
  auto r = run_uda({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("uda: error: ", 0), 0u) << r.err;
}

TEST(Cli, UnknownSubcommandIsAUserError) {
  auto r = run_uda({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("uda: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line expected: " << r.err;
}

TEST(Cli, UnknownLogLevelIsAUserError) {
  auto r = run_uda({"--log-level", "loud", "config", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown log level 'loud'"), std::string::npos) << r.err;
}

TEST(Cli, ConfigShowResolvesAndOverrides) {
  TempDir d;
  write_text(d / "base.json", R"({"train": {"max_iters": 100, "seed": 3}})");
  write_text(d / "c.json", R"({"_base_": "base.json", "train": {"seed": 4}})");
  auto r = run_uda({"config", "show", d / "c.json", "--set", "train.max_iters=7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["train"]["max_iters"], 7);
  EXPECT_EQ(j["train"]["seed"], 4);
  EXPECT_EQ(j["runtime"]["device"], "auto");  // a default is filled
  EXPECT_NE(r.err.find("config hash "), std::string::npos);
}

TEST(Cli, ConfigErrorsAreOneLineAndExitTwo) {
  TempDir d;
  write_text(d / "c.json", R"({"train": {"max_itres": 100}})");
  auto r = run_uda({"config", "show", d / "c.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "uda: error: unknown config key (" + d.path() +
                       "/c.json: train.max_itres): did you mean 'train.max_iters'? (see `uda config doc`)\n");
  r = run_uda({"config", "show", d / "missing.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("config file not found"), std::string::npos);
}

TEST(Cli, ConfigDocListsDeclaredKeys) {
  auto r = run_uda({"config", "doc", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  int lines = 0;
  bool saw = false;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line); ++lines) {
    auto j = nlohmann::json::parse(line);
    EXPECT_FALSE(j["doc"].get<std::string>().empty()) << line;
    saw |= j["key"] == "train.max_iters";
  }
  EXPECT_TRUE(saw);
  EXPECT_GT(lines, 10);
}
