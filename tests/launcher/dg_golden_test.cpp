// uda's DomainBed protocol against DomainBed's own code (b93c22a), through
// tests/fixtures/domainbed/golden.json, which scripts/make_domainbed_golden.py
// computes by running DomainBed's seed_hash, hyper-parameter registry,
// make_args_list, model selection and collect_results.
#include "core/numpy_random.h"
#include "launcher/dg_hparams.h"
#include "launcher/dg_runs.h"
#include "launcher/dg_sweep.h"
#include "launcher/dg_table.h"
#include "tests/launcher/dg_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <tuple>

using nlohmann::json;
using namespace uda::cli;
using uda::numpy_random::PyArg;

namespace {

const json& golden() {
  static const json g = json::parse(uda::test::read_text(std::string(UDA_SOURCE_DIR) +
                                                         "/tests/fixtures/domainbed/golden.json"));
  return g;
}

const DgAlgorithm* by_domainbed_name(const std::string& name) {
  for (const auto& a : dg_algorithms())
    if (a.domainbed_name == name) return &a;
  return nullptr;
}

PyArg to_arg(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) return v.get<std::vector<int64_t>>();
  return v.get<int64_t>();
}

}  // namespace

TEST(DomainBedGolden, SeedHash) {
  ASSERT_GE(golden()["seed_hash"].size(), 10u);
  for (const auto& c : golden()["seed_hash"]) {
    std::vector<PyArg> args;
    for (const auto& a : c["args"]) args.push_back(to_arg(a));
    EXPECT_EQ(uda::numpy_random::seed_hash(args), c["value"].get<uint32_t>()) << uda::numpy_random::py_tuple_repr(args);
  }
}

// Every hyper-parameter uda draws equals DomainBed's, bit for bit, in type
// too (int vs float); the ones uda leaves out are DomainBed's constants.
TEST(DomainBedGolden, HyperParameterDraws) {
  size_t compared = 0;
  for (const auto& c : golden()["hparams"]) {
    const auto* a = by_domainbed_name(c["algorithm"]);
    ASSERT_NE(a, nullptr) << c["algorithm"];
    const std::string dataset = c["dataset"];
    const auto got = dg_hparams(*a, dataset, domainbed_small_images(dataset), c["hparams_seed"], c["trial_seed"]);
    const json& want = c["hparams"];
    for (const auto& h : got) {
      ASSERT_TRUE(want.contains(h.name)) << h.name;
      EXPECT_EQ(h.value.is_number_integer(), want[h.name].is_number_integer()) << h.name << " " << c.dump();
      if (h.value.is_number_integer())
        EXPECT_EQ(h.value.get<int64_t>(), want[h.name].get<int64_t>()) << h.name << " " << c.dump();
      else
        EXPECT_EQ(h.value.get<double>(), want[h.name].get<double>()) << h.name << " " << c.dump();
      ++compared;
    }
    for (const auto& [name, v] : want.items()) {
      bool drawn = false;
      for (const auto& h : got) drawn = drawn || h.name == name;
      if (!drawn) {  // not mapped by uda: a constant of DomainBed's registry, or vit_dropout
        EXPECT_TRUE(v.is_boolean() || name == "linear_steps" || name == "vit_dropout") << name;
      }
    }
  }
  // 3 datasets x 3 trials x 6 draws x (ERM 4 + DANN 15 + CDANN 15 + CORAL 5
  // + MMD 5 + MLDG 6 hyper-parameters).
  EXPECT_EQ(compared, 2700u);
}

TEST(DomainBedGolden, SweepJobsInOrderWithSeeds) {
  for (const auto& s : golden()["sweeps"]) {
    DgSweep sweep;
    sweep.datasets = {{"ColoredMNIST", "", true, 3}, {"VLCS", "", false, 4}};
    sweep.algorithms = {"erm", "dann"};
    sweep.n_hparams = 3;
    sweep.n_trials = 2;
    sweep.test_domains = s["single_test_envs"].get<bool>() ? "single" : "single_and_pairs";
    const auto jobs = dg_jobs(sweep);
    ASSERT_EQ(jobs.size(), s["jobs"].size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      const json& w = s["jobs"][i];
      EXPECT_EQ(jobs[i].dataset->name, w["dataset"]);
      EXPECT_EQ(jobs[i].algorithm->domainbed_name, w["algorithm"]);
      EXPECT_EQ(jobs[i].test_envs, w["test_envs"].get<std::vector<int64_t>>());
      EXPECT_EQ(jobs[i].hparams_seed, w["hparams_seed"]);
      EXPECT_EQ(jobs[i].trial_seed, w["trial_seed"]);
      EXPECT_EQ(jobs[i].seed, w["seed"]) << i;
    }
  }
}

namespace {

// The fabricated runs of the golden file as uda run directories.
std::vector<DgRun> golden_runs(const uda::test::TempDir& t) {
  int i = 0;
  for (const auto& r : golden()["runs"]) {
    uda::test::FakeDgRun f;
    f.dataset = r["dataset"];
    f.algorithm = by_domainbed_name(r["algorithm"])->uda_name;
    f.test_envs = r["test_envs"].get<std::vector<int64_t>>();
    f.trial_seed = r["trial_seed"];
    f.hparams_seed = r["hparams_seed"];
    f.domains = golden()["domains"][f.dataset].get<std::vector<std::string>>();
    for (const auto& c : r["checkpoints"])
      f.evals.push_back({c["step"], c["in"].get<std::vector<double>>(), c["out"].get<std::vector<double>>()});
    uda::test::write_dg_run(t / ("run" + std::to_string(i++)), f);
  }
  std::vector<std::string> notes;
  auto runs = dg_runs(read_runs(t.path()), &notes);
  EXPECT_TRUE(notes.empty());
  return runs;
}

}  // namespace

// Each method's choice per (trial, dataset, algorithm, test domain) and
// collect_results' LaTeX document, byte for byte.
TEST(DomainBedGolden, SelectionAndTables) {
  uda::test::TempDir t;
  const auto runs = golden_runs(t);
  ASSERT_EQ(runs.size(), golden()["runs"].size());
  for (const char* method : {"training_domain", "leave_one_out", "oracle"}) {
    SCOPED_TRACE(method);
    const json& want = golden()["selection"][method];
    const DgReport r = dg_report(parse_dg_selection(method), runs, {});
    using Key = std::tuple<int64_t, std::string, std::string, int64_t>;
    std::map<Key, DgSweepAcc> got;
    for (const auto& c : r.chosen)
      got[{c.trial_seed, c.dataset, find_dg_algorithm(c.algorithm)->domainbed_name, c.test_env}] = c;
    ASSERT_EQ(got.size(), want["groups"].size());
    for (const auto& g : want["groups"]) {
      const Key k{g["trial_seed"], g["dataset"], g["algorithm"], g["test_env"]};
      ASSERT_TRUE(got.count(k)) << g.dump();
      EXPECT_EQ(got[k].hparams_seed, g["hparams_seed"]) << g.dump();
      EXPECT_EQ(got[k].acc.test_acc, g["test_acc"].get<double>()) << g.dump();
      EXPECT_EQ(got[k].acc.val_acc, g["val_acc"].get<double>()) << g.dump();
    }
    EXPECT_EQ(dg_latex(r), want["latex"].get<std::string>());
  }
}
