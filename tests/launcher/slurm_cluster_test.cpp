// End-to-end tests on a real single-host SLURM cluster (slurmctld, slurmd,
// munged from slurm/testcluster/start.sh, one per test process). Where the
// cluster cannot start (no SLURM, not root), every case is skipped with the
// reason: never counted as passed.
#include "core/config.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;
using uda::test::read_text;
using uda::test::run_command;
using uda::test::run_uda;

namespace {

const std::string kScripts = std::string(UDA_SOURCE_DIR) + "/slurm/testcluster";
const std::string kConfig = std::string(UDA_SOURCE_DIR) + "/configs/toyscenes/source_only.json";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class SlurmCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new uda::test::TempDir();
    auto r = run_command({"bash", kScripts + "/start.sh", dir_->path() + "/cluster"});
    if (r.exit_code != 0) {
      setup_failure_ = "the SLURM test cluster did not start: " + r.err.substr(0, 1500);
      return;
    }
    setenv("SLURM_CONF", (dir_->path() + "/cluster/slurm.conf").c_str(), 1);
    auto c = run_uda({"convert", "--format", "toyscenes", "--out", dir_->path() + "/data", "--count", "64", "--size",
                      "64x48"});
    if (c.exit_code != 0) setup_failure_ = "could not convert the toy dataset: " + c.err;
  }
  static void TearDownTestSuite() {
    if (dir_) {
      run_command({"bash", kScripts + "/stop.sh", dir_->path() + "/cluster"});
      delete dir_;
      dir_ = nullptr;
    }
  }
  // The cluster is part of the test environment (scripts/install-deps.sh
  // installs slurm-wlm and munge): when it cannot start, every test fails
  // with the reason rather than being skipped.
  void SetUp() override { ASSERT_TRUE(setup_failure_.empty()) << setup_failure_; }

  static std::string data() { return dir_->path() + "/data"; }
  static std::string path(const std::string& name) { return dir_->path() + "/" + name; }

  // A tiny training: 48x48 crops, a few iterations.
  static std::vector<std::string> sets(int iters) {
    const std::string d = data();
    return {"data.source.path=" + d + "/source", "data.target.path=" + d + "/target",
            "data.val.path=" + d + "/target_val", "train.max_iters=" + std::to_string(iters),
            "train.eval_interval=3", "train.checkpoint_interval=3", "train.log_interval=1",
            "data.source.crop_size=[48,48]", "data.target.crop_size=[48,48]", "data.source.img_scale=[64,48]",
            "data.target.img_scale=[64,48]"};
  }
  static std::vector<std::string> train_args(const std::string& run, int iters, int nproc) {
    std::vector<std::string> a{"train", kConfig, "--executor", "slurm", "--nproc", std::to_string(nproc),
                               "--work-dir", run};
    for (const auto& s : sets(iters)) a.insert(a.end(), {"--set", s});
    return a;
  }

  static std::string job_state(const std::string& job) {
    auto r = run_command({"scontrol", "show", "job", "-o", job});
    const auto p = r.out.find("JobState=");
    return p == std::string::npos ? "" : r.out.substr(p + 9, r.out.find(' ', p) - p - 9);
  }

  static std::string node_state() { return trim(run_command({"sinfo", "-h", "-o", "%t"}).out); }

  // Polls until pred() or the timeout; returns pred().
  template <class F>
  static bool wait_until(F pred, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return pred();
  }

  static int logged_iters(const std::string& run) {
    std::ifstream in(run + "/metrics.jsonl");
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }

  // Tensor name -> xxHash of the final checkpoint's manifest.
  static std::map<std::string, std::string> tensor_checksums(const std::string& run, int iter) {
    char name[32];
    snprintf(name, sizeof name, "iter_%08d", iter);
    const json m = uda::config::read_json_file(run + "/checkpoints/" + name + "/manifest.json");
    std::map<std::string, std::string> out;
    for (const auto& t : m["tensors"]) out[t["name"].get<std::string>()] = t["xxh64"].get<std::string>();
    return out;
  }

  // Submits a run, preempts it once `preempt(job)` after 3 logged iterations,
  // releases the requeued job (SLURM holds requeued jobs ~2 minutes) and
  // waits until it is done.
  template <class F>
  void run_preempted(const std::string& run, int iters, F preempt) {
    auto sub = run_uda(train_args(run, iters, 1));
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    const std::string job = trim(sub.out);
    ASSERT_TRUE(wait_until([&] { return logged_iters(run) >= 3; }, 120)) << read_text(run + "/slurm-" + job + ".out");
    ASSERT_FALSE(fs::exists(run + "/DONE")) << "finished before the preemption";
    preempt(job);
    // Release the held job only once the node has cleaned up its previous
    // incarnation and a wall-clock second has passed since the requeue:
    // slurmd compares job credentials with the revocation time in whole
    // seconds, and rejects a relaunch within the same second ("Job
    // credential revoked"), which SLURM's own requeue hold never meets.
    std::time_t pending_since = 0;
    const bool done = wait_until(
        [&] {
          if (job_state(job) == "PENDING") {
            if (pending_since == 0) pending_since = std::time(nullptr);
            if (std::time(nullptr) > pending_since && node_state() == "idle")
              run_command({"scontrol", "update", "JobId=" + job, "StartTime=now"});
          }
          return fs::exists(run + "/DONE") && job_state(job) == "COMPLETED";
        },
        180);
    const std::string out = read_text(run + "/slurm-" + job + ".out");
    ASSERT_TRUE(done) << out << "\n--- scontrol show job " << job << "\n"
                      << run_command({"scontrol", "show", "job", job}).out << "\n--- sinfo -R\n"
                      << run_command({"sinfo", "-R"}).out << "\n--- slurmctld.log (tail)\n"
                      << run_command({"tail", "-n", "40", dir_->path() + "/cluster/log/slurmctld.log"}).out
                      << "\n--- slurmd.log (tail)\n"
                      << run_command({"tail", "-n", "40", dir_->path() + "/cluster/log/slurmd.log"}).out;
    EXPECT_NE(out.find("exiting for requeue"), std::string::npos) << out;
    EXPECT_NE(out.find("restart 1"), std::string::npos) << out;
    EXPECT_NE(out.find("resumed from iteration"), std::string::npos) << out;
    EXPECT_EQ(trim(read_text(run + "/slurm_requeues")), "1");
  }

  static uda::test::TempDir* dir_;
  static std::string setup_failure_;
};

uda::test::TempDir* SlurmCluster::dir_ = nullptr;
std::string SlurmCluster::setup_failure_;

}  // namespace

TEST_F(SlurmCluster, TwoTaskMpiTrainingFinishes) {
  const std::string run = path("two-task");
  auto args = train_args(run, 6, 2);
  args.push_back("--wait");
  auto r = run_uda(args);
  const std::string job = trim(r.out);
  ASSERT_EQ(r.exit_code, 0) << r.err << read_text(run + "/slurm-" + job + ".out");
  EXPECT_EQ(trim(read_text(run + "/slurm_job_id")), job);
  EXPECT_TRUE(fs::exists(run + "/DONE"));
  EXPECT_TRUE(fs::exists(run + "/status/rank-0.json"));
  EXPECT_TRUE(fs::exists(run + "/status/rank-1.json"));
  EXPECT_NE(read_text(run + "/eval.jsonl").find("\"miou\""), std::string::npos);
  EXPECT_NE(read_text(run + "/slurm-" + job + ".out").find("[rank 0/2]"), std::string::npos);
  EXPECT_EQ(job_state(job), "COMPLETED");
}

TEST_F(SlurmCluster, SweepArrayThrottledThenCollect) {
  const std::string sweep = path("sweep.json"), dir = path("sweep");
  json set = json::object();
  for (const auto& s : sets(4)) {
    const auto eq = s.find('=');
    const auto v = json::parse(s.substr(eq + 1), nullptr, false);
    set[s.substr(0, eq)] = v.is_discarded() ? json(s.substr(eq + 1)) : v;
  }
  uda::test::write_text(sweep, json{{"name", "t"},
                                    {"base", kConfig},
                                    {"set", set},
                                    {"grid", {{"optimizer.lr", {1e-4, 1e-3}}}},
                                    {"seeds", {0, 1}},
                                    {"nproc", 1}}
                                   .dump());
  auto r = run_uda({"sweep", sweep, "--work-dir", dir, "--executor", "slurm", "--max-parallel", "2", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string array = trim(r.out);
  // One array of 4 tasks, 2 at a time.
  bool found = false;
  for (const auto& e : fs::directory_iterator(dir + "/slurm"))
    if (e.path().extension() == ".sbatch") {
      found = true;
      EXPECT_NE(read_text(e.path().string()).find("#SBATCH --array=0-3%2\n"), std::string::npos);
    }
  EXPECT_TRUE(found);
  auto st = run_uda({"sweep", "status", dir, "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  const json rows = json::parse(st.out);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["state"], "done") << row.dump();
    EXPECT_EQ(row["job_id"].get<std::string>().rfind(array + "_", 0), 0u) << row.dump();
    EXPECT_EQ(row["run"].get<std::string>().size(), 16u);  // the config hash
  }
  auto c = run_uda({"collect", dir, "--format", "json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const json groups = json::parse(c.out);
  ASSERT_EQ(groups.size(), 2u) << c.out;
  for (const auto& g : groups) {
    EXPECT_EQ(g["n"], 2);
    EXPECT_TRUE(g["hparams"].contains("optimizer.lr"));
    EXPECT_TRUE(g["mean"].is_number() && g["std"].is_number());
  }
  auto md = run_uda({"collect", dir});
  EXPECT_NE(md.out.find("| optimizer.lr |"), std::string::npos) << md.out;
  // Started again: every run is finished, nothing is launched.
  auto again = run_uda({"sweep", sweep, "--work-dir", dir, "--executor", "slurm"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 to launch"), std::string::npos) << again.err;
}

TEST_F(SlurmCluster, PreemptedRunsResumeBitIdentical) {
  const int iters = 9;
  const std::string ref = path("ref");
  auto args = train_args(ref, iters, 1);
  args.push_back("--wait");
  auto r = run_uda(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto want = tensor_checksums(ref, iters);
  ASSERT_FALSE(want.empty());

  // scontrol requeue: SLURM sends SIGTERM, requeues the job itself.
  const std::string requeued = path("requeued");
  run_preempted(requeued, iters, [](const std::string& job) { run_command({"scontrol", "requeue", job}); });
  EXPECT_EQ(tensor_checksums(requeued, iters), want);
  EXPECT_EQ(read_text(requeued + "/final_eval.json"), read_text(ref + "/final_eval.json"));

  // USR2 to the batch shell (what --signal=B:USR2@lead sends before the time
  // limit): the script forwards it, the ranks checkpoint, it requeues.
  const std::string signalled = path("signalled");
  run_preempted(signalled, iters, [](const std::string& job) {
    run_command({"scancel", "--signal=USR2", "--batch", job});
  });
  EXPECT_NE(read_text(signalled + "/slurm-" + trim(read_text(signalled + "/slurm_job_id")) + ".out")
                .find("received USR2"),
            std::string::npos);
  EXPECT_EQ(tensor_checksums(signalled, iters), want);
  EXPECT_EQ(read_text(signalled + "/final_eval.json"), read_text(ref + "/final_eval.json"));
}

TEST_F(SlurmCluster, FailingRunReportedWithItsReason) {
  const std::string sweep = path("bad.json"), dir = path("bad");
  uda::test::write_text(sweep, json{{"name", "bad"},
                                    {"base", kConfig},
                                    {"set",
                                     {{"data.source.path", path("no-such-dataset")},
                                      {"data.target.path", data() + "/target"},
                                      {"data.val.path", data() + "/target_val"},
                                      {"train.max_iters", 2}}},
                                    {"nproc", 1}}
                                   .dump());
  auto r = run_uda({"sweep", sweep, "--work-dir", dir, "--executor", "slurm", "--wait"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("did not finish"), std::string::npos) << r.err;
  auto st = run_uda({"sweep", "status", dir});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("no-such-dataset"), std::string::npos) << st.out;
  const json rows = json::parse(run_uda({"sweep", "status", dir, "--json"}).out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["state"], "failed");
  EXPECT_NE(rows[0]["reason"].get<std::string>().find("dataset directory does not exist"), std::string::npos);
  // A failed run is not retried without --retry-failed.
  auto again = run_uda({"sweep", sweep, "--work-dir", dir, "--executor", "slurm"});
  EXPECT_NE(again.err.find("0 to launch"), std::string::npos) << again.err;
  auto retry = run_uda({"sweep", sweep, "--work-dir", dir, "--executor", "slurm", "--retry-failed", "--dry-run"});
  EXPECT_NE(retry.out.find("launch failed"), std::string::npos) << retry.out;
}

// A DomainBed-protocol sweep with nothing finished times its first job as
// one SLURM job before submitting the array; here that job fails (no
// multi-domain dataset at its path), which stops the sweep with the rank's
// reason and submits nothing else.
TEST_F(SlurmCluster, DomainBedSweepCalibratesAsOneJobFirst) {
  const std::string sweep = path("dg.json"), dir = path("dg");
  json set = json::object();
  for (const auto& s : sets(4)) {
    const auto eq = s.find('=');
    const auto v = json::parse(s.substr(eq + 1), nullptr, false);
    set[s.substr(0, eq)] = v.is_discarded() ? json(s.substr(eq + 1)) : v;
  }
  set["data.source.path"] = path("no-dg-dataset");
  uda::test::write_text(sweep, json{{"name", "dg"},
                                    {"protocol", "domainbed"},
                                    {"datasets", {{"Toy", {{"config", kConfig}, {"small_images", true}, {"num_domains", 3}}}}},
                                    {"algorithms", {"erm"}},
                                    {"n_hparams", 1},
                                    {"n_trials", 1},
                                    {"set", set}}
                                   .dump());
  auto r = run_uda({"sweep", sweep, "--work-dir", dir, "--executor", "slurm"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("calibrating the estimate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("submitted SLURM job"), std::string::npos) << r.err;
  // Said once, in the sweep's words, with the rank's reason.
  const auto at = r.err.find("uda: error: the calibration run (the sweep's first job) failed: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("uda: error:"), at) << r.err;
  EXPECT_EQ(r.err.find("uda: error:", at + 1), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-dg-dataset", at), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/calibration/run/slurm_job_id"));
  EXPECT_FALSE(fs::exists(dir + "/slurm"));  // no array
}

TEST_F(SlurmCluster, InjectionInAConfigValueStaysData) {
  // A run directory and a config value full of shell syntax: the job runs
  // (and fails on the bogus dataset path) without executing anything.
  const std::string pwned = path("pwned");
  const std::string run = path("x; touch " + pwned + " $(touch " + pwned + ") `touch " + pwned + "`");
  auto a = train_args(path("run-q"), 2, 1);
  a.insert(a.end(), {"--set", "data.source.path=/nonexistent'; touch " + pwned + "; '$(touch " + pwned + ")"});
  auto r = run_uda(a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Blanks and shell characters in the run directory are refused (it lands in
  // #SBATCH lines), with a clear error rather than a broken script.
  auto bad = train_args(run, 2, 1);
  auto rb = run_uda(bad);
  EXPECT_EQ(rb.exit_code, 2) << rb.err;
  EXPECT_NE(rb.err.find("--output"), std::string::npos) << rb.err;
  wait_until([&] { return fs::exists(path("run-q") + "/status/rank-0.json"); }, 60);
  EXPECT_FALSE(fs::exists(pwned));
}
