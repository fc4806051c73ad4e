// DomainBed's tables from fabricated runs: mean ± standard error computed
// by hand, "X" for a missing cell and its row's Avg, the averages table,
// and the four formats.
#include "launcher/dg_runs.h"
#include "launcher/dg_table.h"
#include "tests/launcher/dg_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>

using nlohmann::json;
using namespace uda::cli;

TEST(DgTable, FormatMeanIsPopulationStdOverRootN) {
  const DgCell c = dg_cell({0.5, 0.6, 0.7});
  EXPECT_NEAR(c.mean, 60.0, 1e-12);
  // std([.5, .6, .7] / sqrt(3)) = sqrt(((-0.1)^2 + 0 + 0.1^2) / 3) / sqrt(3) = sqrt(2) / 30
  EXPECT_NEAR(c.err, 100 * std::sqrt(2.0) / 30, 1e-12);  // 4.714
  EXPECT_EQ(dg_cell({0.8}).err, 0.0);
  EXPECT_TRUE(dg_cell({}).values.empty());
}

namespace {

// Two trials of ERM and MMD on a 3-domain dataset, test domains 0 and 1
// only (2 has no run: "X"); values chosen so that every cell is exact.
void write_runs(const uda::test::TempDir& t) {
  int i = 0;
  for (const char* algorithm : {"mmd", "erm"})
    for (int64_t trial : {0, 1})
      for (int64_t env : {0, 1}) {
        uda::test::FakeDgRun r;
        r.dataset = "Three";
        r.algorithm = algorithm;
        r.trial_seed = trial;
        r.test_envs = {env};
        r.domains = {"a", "b", "c"};
        const double base = std::string(algorithm) == "erm" ? 0.5 : 0.25;
        std::vector<double> in{0, 0, 0};
        in[env] = base + 0.125 * static_cast<double>(trial) + 0.25 * static_cast<double>(env);
        r.evals = {{0, in, {0.5, 0.5, 0.5}}};
        uda::test::write_dg_run(t / ("r" + std::to_string(i++)), r);
      }
}

DgReport report(const uda::test::TempDir& t) {
  std::vector<std::string> notes;
  auto runs = dg_runs(read_runs(t.path()), &notes);
  return dg_report(DgSelection::kTrainingDomain, runs, notes);
}

}  // namespace

TEST(DgTable, RowsColumnsCellsAndAverages) {
  uda::test::TempDir t;
  write_runs(t);
  const DgReport r = report(t);
  EXPECT_EQ(r.records, 8u);
  ASSERT_EQ(r.datasets.size(), 1u);
  const DgTable& d = r.datasets[0];
  EXPECT_EQ(d.columns, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(d.algorithms, (std::vector<std::string>{"ERM", "MMD"}));  // DomainBed's ALGORITHMS order
  // ERM, domain a: trials 0.5 and 0.625 -> 56.25 ± 100 * std([.5, .625] / sqrt 2) = 4.419...
  EXPECT_EQ(d.cells[0][0].mean, 56.25);
  EXPECT_NEAR(d.cells[0][0].err, 100 * 0.0625 / std::sqrt(2.0), 1e-12);
  EXPECT_EQ(d.cells[0][1].mean, 81.25);  // 0.75 and 0.875
  EXPECT_TRUE(d.cells[0][2].values.empty());
  EXPECT_FALSE(d.avg[0].has_value());
  // Averages: per trial the mean over the test domains with a value.
  const DgTable& a = r.averages;
  EXPECT_EQ(a.columns, std::vector<std::string>{"Three"});
  EXPECT_EQ(a.cells[0][0].values, (std::vector<double>{0.625, 0.75}));  // (0.5 + 0.75) / 2, (0.625 + 0.875) / 2
  EXPECT_EQ(*a.avg[0], 68.75);

  const std::string md = dg_markdown(r);
  EXPECT_NE(md.find("## Model selection: training-domain validation set"), std::string::npos) << md;
  EXPECT_NE(md.find("### Dataset: Three\n\n| Algorithm | a | b | c | Avg |\n|---|---|---|---|---|\n"
                    "| ERM | 56.2 ± 4.4 | 81.2 ± 4.4 | X | X |\n| MMD | 31.2 ± 4.4 | 56.2 ± 4.4 | X | X |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| ERM | 68.8 ± 4.4 | 68.8 |"), std::string::npos) << md;

  const std::string csv = dg_csv(r);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "table,algorithm,column,mean,stderr,n,text");
  EXPECT_NE(csv.find("\nThree,ERM,a,56.25,4.4194173824159"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nThree,ERM,c,,,0,X\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nThree,ERM,Avg,,,,X\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nAverages,ERM,Avg,68.75,,,68.8\n"), std::string::npos) << csv;

  const json j = dg_json(r);
  EXPECT_EQ(j["selection"], "training_domain");
  EXPECT_EQ(j["tables"][0]["rows"][0]["cells"][0]["mean"], 56.25);
  EXPECT_EQ(j["tables"][0]["rows"][0]["cells"][2]["text"], "X");
  EXPECT_TRUE(j["tables"][0]["rows"][0]["avg"].is_null());
  EXPECT_EQ(j["chosen"].size(), 8u);

  const std::string tex = dg_latex(r);
  EXPECT_NE(tex.find("\\begin{tabular}{lcccc}\n\\toprule\n\\textbf{Algorithm}   & \\textbf{a}           & "),
            std::string::npos)
      << tex;
  EXPECT_NE(tex.find("ERM                  & 56.2 $\\pm$ 4.4       & 81.2 $\\pm$ 4.4       & X                    & "
                     "X                    \\\\\n"),
            std::string::npos)
      << tex;
}
