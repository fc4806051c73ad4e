// DomainBed's model selection on fabricated run directories: the three
// methods per run, their tie rules, the choice between hyper-parameter
// draws, and what is left out and why.
#include "core/error.h"
#include "launcher/dg_runs.h"
#include "launcher/dg_selection.h"
#include "tests/launcher/dg_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

using namespace uda::cli;
using uda::test::FakeDgRun;
using uda::test::FakeEval;

namespace {

// Three domains; test domain 1.
FakeDgRun run(std::vector<int64_t> envs, int64_t hs, std::vector<FakeEval> evals) {
  FakeDgRun r;
  r.dataset = "Three";
  r.test_envs = std::move(envs);
  r.hparams_seed = hs;
  r.evals = std::move(evals);
  return r;
}

std::vector<DgRun> load(const uda::test::TempDir& t, std::vector<std::string>* notes) {
  return dg_runs(read_runs(t.path()), notes);
}

std::vector<const DgRun*> ptrs(const std::vector<DgRun>& runs) {
  std::vector<const DgRun*> out;
  for (const auto& r : runs) out.push_back(&r);
  return out;
}

}  // namespace

TEST(DgSelection, TrainingDomainTakesTheFirstBestCheckpoint) {
  uda::test::TempDir t;
  // val = mean of env0_out and env2_out; steps 0 and 200 tie at 0.5.
  uda::test::write_dg_run(t / "a", run({1}, 0,
                                       {{0, {0.1, 0.20, 0.3}, {0.4, 0.9, 0.6}},
                                        {100, {0.1, 0.30, 0.3}, {0.2, 0.9, 0.2}},
                                        {200, {0.1, 0.40, 0.3}, {0.6, 0.9, 0.4}}}));
  std::vector<std::string> notes;
  const auto runs = load(t, &notes);
  ASSERT_EQ(runs.size(), 1u);
  const auto acc = dg_run_acc(DgSelection::kTrainingDomain, ptrs(runs), 1);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->step, 0);
  EXPECT_EQ(acc->val_acc, 0.5);
  EXPECT_EQ(acc->test_acc, 0.20);  // the test domain's in split
}

TEST(DgSelection, OracleTakesTheLastCheckpointsTestOutSplit) {
  uda::test::TempDir t;
  uda::test::write_dg_run(t / "a", run({1}, 0,
                                       {{0, {0.1, 0.9, 0.3}, {0.4, 0.95, 0.6}},
                                        {100, {0.1, 0.3, 0.3}, {0.2, 0.35, 0.2}}}));
  std::vector<std::string> notes;
  const auto runs = load(t, &notes);
  const auto acc = dg_run_acc(DgSelection::kOracle, ptrs(runs), 1);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->step, 100);  // no early stopping
  EXPECT_EQ(acc->val_acc, 0.35);
  EXPECT_EQ(acc->test_acc, 0.3);
}

TEST(DgSelection, LeaveOneOutAveragesThePairRunsHeldOutDomains) {
  uda::test::TempDir t;
  // Test domain 1: val = (env0_in of run [0, 1] + env2_in of run [1, 2]) / 2.
  uda::test::write_dg_run(t / "s", run({1}, 0, {{0, {0, 0.7, 0}, {0, 0, 0}}, {100, {0, 0.8, 0}, {0, 0, 0}}}));
  uda::test::write_dg_run(t / "p01", run({0, 1}, 0, {{0, {0.5, 0, 0}, {0, 0, 0}}, {100, {0.125, 0, 0}, {0, 0, 0}}}));
  uda::test::write_dg_run(t / "p12", run({1, 2}, 0, {{0, {0, 0, 0.25}, {0, 0, 0}}, {100, {0, 0, 0.625}, {0, 0, 0}}}));
  std::vector<std::string> notes;
  auto runs = load(t, &notes);
  ASSERT_EQ(runs.size(), 3u);
  auto acc = dg_run_acc(DgSelection::kLeaveOneOut, ptrs(runs), 1);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->step, 0);  // (0.5 + 0.25) / 2 = 0.375 ties with (0.125 + 0.625) / 2: the earlier step
  EXPECT_EQ(acc->val_acc, 0.375);
  EXPECT_EQ(acc->test_acc, 0.7);
  // Without the pair (1, 2) the draw has no value, and the note names it.
  runs.pop_back();
  EXPECT_FALSE(dg_run_acc(DgSelection::kLeaveOneOut, ptrs(runs), 1));
  const auto chosen = dg_sweep_accs(DgSelection::kLeaveOneOut, runs, &notes);
  bool named = false;
  for (const auto& n : notes) named = named || n.find("no run with test domains [1, 2]") != std::string::npos;
  EXPECT_TRUE(named) << testing::PrintToString(notes);
  for (const auto& c : chosen) EXPECT_NE(c.test_env, 1);
}

TEST(DgSelection, LeaveOneOutWithoutPairRunsIsAUserError) {
  uda::test::TempDir t;
  uda::test::write_dg_run(t / "s", run({1}, 0, {{0, {0, 0.7, 0}, {0, 0, 0}}}));
  std::vector<std::string> notes;
  try {
    dg_sweep_accs(DgSelection::kLeaveOneOut, load(t, &notes), &notes);
    FAIL() << "no error";
  } catch (const uda::UserError& e) {
    EXPECT_NE(e.what_part().find("two test domains"), std::string::npos);
    EXPECT_NE(e.fix().find("single_and_pairs"), std::string::npos);
  }
}

// hparams_accs (model_selection.py:27-40): the best val_acc; of equal ones
// the highest hparams_seed.
TEST(DgSelection, BestDrawPerGroupTiesToTheHighestSeed) {
  uda::test::TempDir t;
  uda::test::write_dg_run(t / "h0", run({1}, 0, {{0, {0, 0.11, 0}, {0.5, 0, 0.75}}}));
  uda::test::write_dg_run(t / "h1", run({1}, 1, {{0, {0, 0.22, 0}, {0.625, 0, 0.625}}}));  // val 0.625 too
  uda::test::write_dg_run(t / "h2", run({1}, 2, {{0, {0, 0.33, 0}, {0.5, 0, 0.5}}}));
  auto second = run({1}, 0, {{0, {0, 0.44, 0}, {0.9, 0, 0.9}}});
  second.trial_seed = 1;
  uda::test::write_dg_run(t / "t1", second);
  std::vector<std::string> notes;
  const auto chosen = dg_sweep_accs(DgSelection::kTrainingDomain, load(t, &notes), &notes);
  ASSERT_EQ(chosen.size(), 2u);
  EXPECT_EQ(chosen[0].trial_seed, 0);
  EXPECT_EQ(chosen[0].hparams_seed, 1);
  EXPECT_EQ(chosen[0].acc.test_acc, 0.22);
  EXPECT_EQ(chosen[1].trial_seed, 1);
  EXPECT_EQ(chosen[1].acc.test_acc, 0.44);
}

TEST(DgSelection, PairRunsBelongToBothGroupsButOnlyLeaveOneOutUsesThem) {
  uda::test::TempDir t;
  uda::test::write_dg_run(t / "p", run({0, 2}, 0, {{0, {0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}}}));
  std::vector<std::string> notes;
  const auto runs = load(t, &notes);
  EXPECT_TRUE(dg_sweep_accs(DgSelection::kTrainingDomain, runs, &notes).empty());
  EXPECT_TRUE(dg_sweep_accs(DgSelection::kOracle, runs, &notes).empty());
}

TEST(DgSelection, UnfinishedAndNonDgRunsAndRepeatedIterations) {
  uda::test::TempDir t;
  auto unfinished = run({1}, 0, {{0, {0, 1, 0}, {0, 1, 0}}});
  unfinished.done = false;
  uda::test::write_dg_run(t / "u", unfinished);
  uda::test::write_text(t / "seg/config.json", R"({"algorithm": {"name": "dacs"}})");
  // A resumed run evaluated iteration 100 twice: the later record counts.
  uda::test::write_dg_run(t / "r", run({1}, 0,
                                       {{100, {0, 0.1, 0}, {0.1, 0, 0.1}},
                                        {100, {0, 0.2, 0}, {0.2, 0, 0.2}},
                                        {50, {0, 0.3, 0}, {0.15, 0, 0.15}}}));
  std::vector<std::string> notes;
  const auto runs = load(t, &notes);
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("not a domain generalization run"), std::string::npos);
  EXPECT_NE(notes[1].find("not finished"), std::string::npos);
  ASSERT_EQ(runs[0].checkpoints.size(), 2u);
  EXPECT_EQ(runs[0].checkpoints[0].step, 50);  // in iteration order
  EXPECT_EQ(runs[0].checkpoints[1].in_acc[1], 0.2);
  EXPECT_EQ(runs[0].dataset, "Three");
  EXPECT_EQ(parse_dg_selection("oracle"), DgSelection::kOracle);
  EXPECT_THROW(parse_dg_selection("iid"), uda::UserError);
}
