// DomainBed's result tables (domainbed/scripts/collect_results.py at
// b93c22a, print_results_tables :107-187): per dataset, one row per
// algorithm and one column per test domain plus "Avg"; then the averages
// over datasets. Cells are mean ± standard error over trials (format_mean,
// :64-74). Written as Markdown, DomainBed's LaTeX, CSV or JSON.
#pragma once

#include "launcher/dg_runs.h"
#include "launcher/dg_selection.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace uda::cli {

// format_mean: mean = 100 * mean(values), err = 100 * std(values / sqrt(n))
// (population std: the standard error); no values: "X".
struct DgCell {
  std::vector<double> values;  // accuracies in [0, 1], one per trial
  double mean = 0, err = 0;    // percent; meaningful when values is not empty
};
DgCell dg_cell(std::vector<double> values);

struct DgTable {
  std::string title;                    // the dataset, or "Averages"
  std::vector<std::string> columns;     // the test domains' labels, or the datasets
  std::vector<std::string> algorithms;  // row labels
  std::vector<std::vector<DgCell>> cells;  // [row][column]
  // Per row: the mean of the column means, none when a cell has no value.
  std::vector<std::optional<double>> avg;
};

struct DgReport {
  DgSelection selection = DgSelection::kTrainingDomain;
  size_t records = 0;  // evaluations read (DomainBed's "Total records")
  std::vector<DgTable> datasets;
  DgTable averages;
  std::vector<DgSweepAcc> chosen;  // every group's choice
  std::vector<std::string> notes;  // runs left out, draws without a value
};

// Selection, then the tables. Rows: algorithms in DomainBed's ALGORITHMS
// order, then others by name, each labelled with DomainBed's name; datasets
// by name; the domain labels from eval.jsonl "domains" (else env<i>).
DgReport dg_report(DgSelection s, const std::vector<DgRun>& runs, std::vector<std::string> notes);

std::string dg_markdown(const DgReport& r);
// DomainBed's --latex document (collect_results.py:199-232, print_table
// :76-105, misc.print_row misc.py:142-154) for the one selection method;
// cells are padded to DomainBed's column width but not cut at it.
std::string dg_latex(const DgReport& r);
// One line per cell: table,algorithm,column,mean,stderr,n,text.
std::string dg_csv(const DgReport& r);
nlohmann::json dg_json(const DgReport& r);

}  // namespace uda::cli
