#include "launcher/dg_table.h"

#include "launcher/dg_hparams.h"
#include "launcher/numpy_reduce.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

using nlohmann::json;

namespace uda::cli {

namespace {

std::string fixed1(double v) {
  char b[64];
  snprintf(b, sizeof b, "%.1f", v);  // Python's "{:.1f}": both round the exact binary value
  return b;
}

std::string cell_text(const DgCell& c, const std::string& pm) {
  return c.values.empty() ? "X" : fixed1(c.mean) + pm + fixed1(c.err);
}

std::string avg_text(const std::optional<double>& a) { return a ? fixed1(*a) : "X"; }

// "Avg" (collect_results.py:146-149, :179-182): Python's sum of the column
// means over their count; "X" when one is missing.
std::optional<double> row_avg(const std::vector<DgCell>& row) {
  double sum = 0;
  for (const auto& c : row) {
    if (c.values.empty()) return std::nullopt;
    sum += c.mean;
  }
  return sum / static_cast<double>(row.size());
}

std::string row_label(const std::string& algorithm) {
  const DgAlgorithm* a = find_dg_algorithm(algorithm);
  return a ? a->domainbed_name : algorithm;
}

// collect_results.py:121-123: ALGORITHMS order, then the others.
std::vector<std::string> row_order(const std::vector<DgRun>& runs) {
  std::set<std::string> present, others;
  for (const auto& r : runs) present.insert(r.algorithm);
  std::vector<std::string> out;
  for (const auto& a : dg_algorithms())
    if (present.count(a.uda_name)) out.push_back(a.uda_name);
  for (const auto& a : present)
    if (!find_dg_algorithm(a)) out.push_back(a);
  return out;
}

std::vector<std::string> domain_labels(const std::vector<DgRun>& runs, const std::string& dataset) {
  size_t n = 0;
  for (const auto& r : runs)
    if (r.dataset == dataset)
      for (const auto& c : r.checkpoints) n = std::max(n, c.out_acc.size());
  for (const auto& r : runs)
    if (r.dataset == dataset && r.domains.size() == n) return r.domains;
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("env" + std::to_string(i));
  return out;
}

// One dataset's table (collect_results.py:129-159): the cell (algorithm, t)
// holds the chosen test accuracies of its groups, one per trial.
DgTable dataset_table(const std::string& dataset, const std::vector<DgRun>& runs,
                      const std::vector<std::string>& algorithms, const std::vector<DgSweepAcc>& chosen) {
  DgTable t;
  t.title = dataset;
  t.columns = domain_labels(runs, dataset);
  for (const auto& a : algorithms) {
    t.algorithms.push_back(row_label(a));
    std::vector<DgCell> row;
    for (size_t env = 0; env < t.columns.size(); ++env) {
      std::vector<double> v;
      for (const auto& c : chosen)
        if (c.dataset == dataset && c.algorithm == a && c.test_env == static_cast<int64_t>(env))
          v.push_back(c.acc.test_acc);
      row.push_back(dg_cell(v));
    }
    t.avg.push_back(row_avg(row));
    t.cells.push_back(std::move(row));
  }
  return t;
}

// The averages table (collect_results.py:166-187): per trial the mean of
// its chosen test accuracies over the test domains, then mean ± SE over
// trials.
DgTable averages_table(const std::vector<std::string>& datasets, const std::vector<std::string>& algorithms,
                       const std::vector<DgSweepAcc>& chosen) {
  DgTable t;
  t.title = "Averages";
  t.columns = datasets;
  for (const auto& a : algorithms) {
    t.algorithms.push_back(row_label(a));
    std::vector<DgCell> row;
    for (const auto& d : datasets) {
      std::map<int64_t, std::vector<double>> by_trial;
      for (const auto& c : chosen)
        if (c.dataset == d && c.algorithm == a) by_trial[c.trial_seed].push_back(c.acc.test_acc);
      std::vector<double> trial_means;
      for (const auto& [trial, v] : by_trial) trial_means.push_back(np_mean(v));
      row.push_back(dg_cell(trial_means));
    }
    t.avg.push_back(row_avg(row));
    t.cells.push_back(std::move(row));
  }
  return t;
}

std::string markdown_table(const DgTable& t) {
  std::string out = "| Algorithm |";
  for (const auto& c : t.columns) out += " " + c + " |";
  out += " Avg |\n|";
  for (size_t i = 0; i < t.columns.size() + 2; ++i) out += "---|";
  out += "\n";
  for (size_t r = 0; r < t.algorithms.size(); ++r) {
    out += "| " + t.algorithms[r] + " |";
    for (const auto& c : t.cells[r]) out += " " + cell_text(c, " ± ") + " |";
    out += " " + avg_text(t.avg[r]) + " |\n";
  }
  return out;
}

// misc.print_row with latex=True: cells left-justified to the column width,
// joined by " & ", then " \\".
std::string latex_row(const std::vector<std::string>& cells, size_t width) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string c = cells[i];
    if (c.size() < width) c.append(width - c.size(), ' ');
    out += (i ? " & " : "") + c;
  }
  return out + " \\\\\n";
}

std::string latex_escape_percent(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '%' ? std::string("\\%") : std::string(1, c);
  return out;
}

std::string latex_table(const DgTable& t, size_t width) {
  std::string out = "\n\\subsubsection{" + t.title + "}\n\n\\begin{center}\n\\adjustbox{max width=\\textwidth}{%\n";
  out += "\\begin{tabular}{l" + std::string(t.columns.size() + 1, 'c') + "}\n\\toprule\n";
  std::vector<std::string> header{"\\textbf{Algorithm}"};
  for (const auto& c : t.columns) header.push_back("\\textbf{" + latex_escape_percent(c) + "}");
  header.push_back("\\textbf{Avg}");
  out += latex_row(header, width) + "\\midrule\n";
  for (size_t r = 0; r < t.algorithms.size(); ++r) {
    std::vector<std::string> row{t.algorithms[r]};
    for (const auto& c : t.cells[r]) row.push_back(cell_text(c, " $\\pm$ "));
    row.push_back(avg_text(t.avg[r]));
    out += latex_row(row, width);
  }
  return out + "\\bottomrule\n\\end{tabular}}\n\\end{center}\n";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) {
  char b[64];
  snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string csv_table(const DgTable& t) {
  std::string out;
  for (size_t r = 0; r < t.algorithms.size(); ++r) {
    const std::string prefix = csv_field(t.title) + "," + csv_field(t.algorithms[r]) + ",";
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const DgCell& cell = t.cells[r][c];
      out += prefix + csv_field(t.columns[c]) + ",";
      out += cell.values.empty() ? std::string(",,0,X")
                                 : number(cell.mean) + "," + number(cell.err) + "," +
                                       std::to_string(cell.values.size()) + "," + cell_text(cell, " ± ");
      out += "\n";
    }
    out += prefix + "Avg," + (t.avg[r] ? number(*t.avg[r]) : std::string()) + ",,," + avg_text(t.avg[r]) + "\n";
  }
  return out;
}

json table_json(const DgTable& t) {
  json rows = json::array();
  for (size_t r = 0; r < t.algorithms.size(); ++r) {
    json cells = json::array();
    for (const auto& c : t.cells[r]) {
      json j{{"n", c.values.size()}, {"values", c.values}, {"text", cell_text(c, " ± ")}};
      if (!c.values.empty()) j.update({{"mean", c.mean}, {"stderr", c.err}});
      cells.push_back(std::move(j));
    }
    rows.push_back({{"algorithm", t.algorithms[r]},
                    {"cells", cells},
                    {"avg", t.avg[r] ? json(*t.avg[r]) : json()},
                    {"avg_text", avg_text(t.avg[r])}});
  }
  return {{"title", t.title}, {"columns", t.columns}, {"rows", rows}};
}

}  // namespace

DgCell dg_cell(std::vector<double> values) {
  DgCell c;
  c.values = std::move(values);
  if (c.values.empty()) return c;
  const double sqrt_n = std::sqrt(static_cast<double>(c.values.size()));
  std::vector<double> scaled;
  for (double v : c.values) scaled.push_back(v / sqrt_n);
  c.mean = 100 * np_mean(c.values);
  c.err = 100 * np_std(scaled);
  return c;
}

DgReport dg_report(DgSelection s, const std::vector<DgRun>& runs, std::vector<std::string> notes) {
  DgReport r;
  r.selection = s;
  r.notes = std::move(notes);
  for (const auto& run : runs) r.records += run.checkpoints.size();
  r.chosen = dg_sweep_accs(s, runs, &r.notes);
  const auto algorithms = row_order(runs);
  std::set<std::string> datasets;
  for (const auto& run : runs) datasets.insert(run.dataset);
  for (const auto& d : datasets) r.datasets.push_back(dataset_table(d, runs, algorithms, r.chosen));
  r.averages = averages_table({datasets.begin(), datasets.end()}, algorithms, r.chosen);
  return r;
}

std::string dg_markdown(const DgReport& r) {
  std::string out = "## Model selection: " + dg_selection_title(r.selection) + "\n\nTotal records: " +
                    std::to_string(r.records) +
                    ". Accuracy (%) of the test domains, mean ± standard error over trials.\n";
  for (const auto& t : r.datasets) out += "\n### Dataset: " + t.title + "\n\n" + markdown_table(t);
  out += "\n### Averages\n\n" + markdown_table(r.averages);
  if (!r.notes.empty()) {
    out += "\nNotes:\n";
    for (const auto& n : r.notes) out += "- " + n + "\n";
  }
  return out;
}

std::string dg_latex(const DgReport& r) {
  std::string out =
      "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{adjustbox}\n\\begin{document}\n"
      "\\section{Full DomainBed results}\n% Total records: " +
      std::to_string(r.records) + "\n\n\\subsection{Model selection: " + dg_selection_title(r.selection) + "}\n";
  for (const auto& t : r.datasets) out += latex_table(t, 20);
  out += latex_table(r.averages, 25);
  return out + "\\end{document}\n";
}

std::string dg_csv(const DgReport& r) {
  std::string out = "table,algorithm,column,mean,stderr,n,text\n";
  for (const auto& t : r.datasets) out += csv_table(t);
  return out + csv_table(r.averages);
}

json dg_json(const DgReport& r) {
  json tables = json::array();
  for (const auto& t : r.datasets) tables.push_back(table_json(t));
  json chosen = json::array();
  for (const auto& c : r.chosen)
    chosen.push_back({{"trial_seed", c.trial_seed}, {"dataset", c.dataset}, {"algorithm", c.algorithm},
                      {"test_env", c.test_env}, {"hparams_seed", c.hparams_seed}, {"step", c.acc.step},
                      {"val_acc", c.acc.val_acc}, {"test_acc", c.acc.test_acc}});
  return {{"selection", dg_selection_option(r.selection)}, {"method", dg_selection_title(r.selection)},
          {"records", r.records}, {"tables", tables}, {"averages", table_json(r.averages)},
          {"chosen", chosen}, {"notes", r.notes}};
}

}  // namespace uda::cli
