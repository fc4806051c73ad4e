// `uda sweep` and `uda collect` with the DomainBed protocol, through the
// binary: the dry-run job list, count and estimate, one-line errors with
// exit 2, and the collect formats.
#include "tests/launcher/dg_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

using nlohmann::json;

namespace {

const std::string kBase = std::string(UDA_SOURCE_DIR) + "/configs/toyscenes/source_only.json";

json sweep_doc() {
  return json{{"name", "dg"},
              {"protocol", "domainbed"},
              {"datasets", {{"RotatedFMNIST", {{"config", kBase}, {"small_images", true}, {"num_domains", 3}}}}},
              {"algorithms", {"erm"}},
              {"test_domains", "single_and_pairs"},
              {"n_hparams", 2},
              {"n_trials", 2},
              {"set", {{"train.max_iters", 100}, {"train.eval_interval", 50}}}};
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

void expect_user_error(const uda::test::CommandResult& r, const std::string& part) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("uda: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
}

}  // namespace

TEST(DgCli, DryRunListsTheJobsInOrderWithCountAndEstimate) {
  uda::test::TempDir t;
  uda::test::write_text(t / "s.json", sweep_doc().dump());
  auto r = uda::test::run_uda({"sweep", t / "s.json", "--work-dir", t / "w", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 2 trials x (3 single + 3 pair test-domain sets) x 2 draws.
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 24u) << r.out;
  EXPECT_NE(r.err.find("24 run(s) in " + (t / "w") + ", 24 to launch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("estimate: none yet"), std::string::npos) << r.err;
  EXPECT_NE(out[0].find("launch pending  dataset=RotatedFMNIST  algorithm.name=\"erm\""), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("data.test_domains=[0]  "), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("train.hparams_seed=0"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("data.batch_per_rank=64"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("optimizer.lr=0.001"), std::string::npos) << out[0];
  EXPECT_NE(out[1].find("train.hparams_seed=1"), std::string::npos) << out[1];
  EXPECT_NE(out[2].find("data.test_domains=[0,1]"), std::string::npos) << out[2];
  EXPECT_NE(out[12].find("data.split_seed=1"), std::string::npos) << out[12];
  EXPECT_FALSE(std::filesystem::exists(t / "w"));

  // With a finished run in the sweep directory: an estimate from its times.
  uda::test::FakeDgRun done;
  done.dataset = "RotatedFMNIST";
  done.evals = {{0, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}}};
  uda::test::write_dg_run(t / "w/finished", done);
  r = uda::test::run_uda({"sweep", t / "s.json", "--work-dir", t / "w", "--dry-run", "--max-parallel", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("estimate: about "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("with 4 at a time"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("from the step and evaluation times of 1 finished run(s)"), std::string::npos) << r.err;
}

TEST(DgCli, BadSweepsAreOneLineUserErrors) {
  uda::test::TempDir t;
  auto run = [&](json d) {
    uda::test::write_text(t / "s.json", d.dump());
    return uda::test::run_uda({"sweep", t / "s.json", "--work-dir", t / "w", "--dry-run"});
  };
  auto d = sweep_doc();
  d["algorithms"] = {"erm", "vrex"};
  expect_user_error(run(d), "unknown algorithm 'vrex'");
  d = sweep_doc();
  d["datasets"]["RotatedFMNIST"]["num_domains"] = 2;
  expect_user_error(run(d), "at least 3 domains");
  d = sweep_doc();
  d["test_domains"] = {{0}, {3}};
  expect_user_error(run(d), "test domain 3 is out of range");
  d = sweep_doc();
  d["n_hparams"] = 0;
  expect_user_error(run(d), "n_hparams");
  d = sweep_doc();
  d["n_trials"] = 0;
  expect_user_error(run(d), "n_trials");
}

namespace {

void write_collect_runs(const uda::test::TempDir& t, bool pairs) {
  int i = 0;
  for (int64_t env = 0; env < 3; ++env) {
    uda::test::FakeDgRun r;
    r.dataset = "RotatedFMNIST";
    r.domains = {"0", "15", "30"};
    r.test_envs = {env};
    r.evals = {{0, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}}};
    uda::test::write_dg_run(t / ("r" + std::to_string(i++)), r);
    for (int64_t other = env + 1; pairs && other < 3; ++other) {
      r.test_envs = {env, other};
      uda::test::write_dg_run(t / ("r" + std::to_string(i++)), r);
    }
  }
}

}  // namespace

TEST(DgCli, CollectFormatsAndLeaveOneOutNeedsPairs) {
  uda::test::TempDir t;
  write_collect_runs(t, false);
  auto md = uda::test::run_uda({"collect", t.path()});  // every run is DG: training_domain
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("Model selection: training-domain validation set"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| ERM | 50.0 ± 0.0 | 50.0 ± 0.0 | 50.0 ± 0.0 | 50.0 |"), std::string::npos) << md.out;
  auto tex = uda::test::run_uda({"collect", t.path(), "--selection", "oracle", "--format", "latex"});
  ASSERT_EQ(tex.exit_code, 0) << tex.err;
  EXPECT_NE(tex.out.find("\\subsection{Model selection: test-domain validation set (oracle)}"), std::string::npos);
  auto j = uda::test::run_uda({"collect", t.path(), "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(json::parse(j.out)["tables"][0]["columns"], json({"0", "15", "30"}));
  auto loo = uda::test::run_uda({"collect", t.path(), "--selection", "leave_one_out"});
  expect_user_error(loo, "leave_one_out needs the runs with two test domains");

  uda::test::TempDir p;
  write_collect_runs(p, true);
  loo = uda::test::run_uda({"collect", p.path(), "--selection", "leave_one_out", "--format", "csv"});
  ASSERT_EQ(loo.exit_code, 0) << loo.err;
  EXPECT_NE(loo.out.find("RotatedFMNIST,ERM,0,50,0,1,50.0 ± 0.0\n"), std::string::npos) << loo.out;
  // The segmentation tables refuse latex.
  expect_user_error(uda::test::run_uda({"collect", p.path(), "--select", "last", "--format", "latex"}),
                    "--format latex");
}

// Without a finished run, a DomainBed sweep first runs its first job for a
// few iterations with one evaluation; a failure there stops the sweep with
// the rank's reason (here: the toy config's dataset was never converted).
TEST(DgCli, CalibrationRunsTheFirstJobBrieflyAndReportsItsFailure) {
  uda::test::TempDir t;
  uda::test::write_text(t / "s.json", sweep_doc().dump());
  auto r = uda::test::run_uda({"sweep", t / "s.json", "--work-dir", t / "w"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("calibrating the estimate: the first job for 20 iterations and one evaluation"),
            std::string::npos)
      << r.err;
  // The rank's reason, in the one error line.
  const auto at = r.err.find("uda: error: the calibration run (the sweep's first job) failed: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("uda: error:", at + 1), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("convert a dataset first", at), std::string::npos) << r.err;
  const json cfg = json::parse(uda::test::read_text(t / "w/calibration/run/config.json"));
  EXPECT_EQ(cfg["train"]["max_iters"], 20);
  EXPECT_EQ(cfg["train"]["eval_interval"], 0);
  EXPECT_EQ(cfg["train"]["log_interval"], 1);
  EXPECT_EQ(cfg["data"]["test_domains"], json::array({0}));
  EXPECT_EQ(cfg["algorithm"]["name"], "erm");
  // Not a run of the sweep: collect and status do not list it.
  auto st = uda::test::run_uda({"sweep", "status", t / "w", "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  for (const auto& row : json::parse(st.out)) EXPECT_EQ(row["state"], "pending") << row.dump();
}
