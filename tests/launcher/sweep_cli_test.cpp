// `uda sweep`: --dry-run names run directories by the hash of each resolved
// config, the same on every invocation, and writes nothing; a signalled local
// sweep preempts its runs and resumes them when started again.
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

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

namespace {

// Starts `uda ARGS` in the background with stdout/stderr to files.
pid_t spawn_uda(const std::vector<std::string>& args, const std::string& out) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<std::string> a{UDA_BINARY};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int lines_in(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

// SIGTERM to a local `uda sweep` reaches its running runs: they checkpoint
// and stop for requeue, the sweep exits 75, and starting it again resumes
// them to the end.
TEST(SweepCli, SignalledLocalSweepPreemptsItsRunsAndResumes) {
  uda::test::TempDir t;
  auto c = uda::test::run_uda(
      {"convert", "--format", "toyscenes", "--out", t / "data", "--count", "32", "--size", "64x48"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const std::string d = t / "data";
  nlohmann::json set{{"data.source.path", d + "/source"}, {"data.target.path", d + "/target"},
                     {"data.val.path", d + "/target_val"}, {"train.max_iters", 150},
                     {"train.log_interval", 1}, {"train.eval_interval", 0}, {"train.checkpoint_interval", 0},
                     {"data.source.crop_size", {48, 48}}, {"data.target.crop_size", {48, 48}},
                     {"data.source.img_scale", {64, 48}}, {"data.target.img_scale", {64, 48}}};
  const std::string sweep = t / "s.json";
  uda::test::write_text(sweep, nlohmann::json{{"name", "sig"},
                                              {"base", std::string(UDA_SOURCE_DIR) + "/configs/toyscenes/source_only.json"},
                                              {"set", set},
                                              {"seeds", {0, 1}},
                                              {"nproc", 1}}
                                   .dump());
  const std::string work = t / "w";
  const pid_t pid = spawn_uda({"sweep", sweep, "--work-dir", work, "--max-parallel", "2"}, t / "sweep.out");
  // Both runs training (a few iterations logged), then the signal.
  std::vector<std::string> runs;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    runs.clear();
    if (std::filesystem::exists(work))
      for (const auto& e : std::filesystem::directory_iterator(work))
        if (lines_in(e.path().string() + "/metrics.jsonl") >= 3) runs.push_back(e.path().string());
    if (runs.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(runs.size(), 2u) << uda::test::read_text(t / "sweep.out");
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st)) << uda::test::read_text(t / "sweep.out");
  EXPECT_EQ(WEXITSTATUS(st), 75) << uda::test::read_text(t / "sweep.out");
  auto status = uda::test::run_uda({"sweep", "status", work, "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  for (const auto& row : nlohmann::json::parse(status.out)) EXPECT_EQ(row["state"], "preempted") << row.dump();
  for (const auto& r : runs) EXPECT_FALSE(std::filesystem::exists(r + "/DONE")) << r;

  auto again = uda::test::run_uda({"sweep", sweep, "--work-dir", work, "--max-parallel", "2"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const auto& r : runs) {
    EXPECT_TRUE(std::filesystem::exists(r + "/DONE")) << r;
    EXPECT_NE(uda::test::read_text(r + "/launcher.log").find("resumed from iteration"), std::string::npos) << r;
  }
}
