#include "launcher/compare_report.h"

#include "core/error.h"
#include "core/fs.h"
#include "launcher/chart_spec.h"
#include "launcher/collect_table.h"
#include "launcher/dg_runs.h"
#include "launcher/dg_table.h"
#include "launcher/html.h"
#include "launcher/iter_records.h"
#include "launcher/report.h"
#include "launcher/report_page.h"
#include "launcher/report_tables.h"
#include "launcher/run_curves.h"
#include "launcher/run_groups.h"
#include "launcher/run_record.h"
#include "launcher/run_state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::cli {

namespace {

// Legends of more series than this are left out (the hover read-out names them).
constexpr size_t kMaxLegend = 12;

struct ComparedRun {
  RunRecord record;
  RunLabel label;
  std::string state;
  IterRecords metrics, evals;
  std::string page;  // the run's own page relative to the comparison's directory, "" when it has none
};

std::vector<RunRecord> read_compared(const std::vector<std::string>& dirs) {
  if (dirs.size() > 1) {
    std::vector<RunRecord> runs;
    for (const auto& d : dirs) {
      if (!fs::is_directory(d) || !is_run_dir(d))
        throw UserError("not a run directory (no config.json or metrics.jsonl)", d,
                        "give run directories written by `uda train`, or one sweep directory");
      runs.push_back(read_run(d));
    }
    return runs;
  }
  auto runs = read_runs(dirs.front());
  if (runs.empty())
    throw UserError("no run directories (with config.json) in the sweep directory", dirs.front(),
                    "give the --work-dir of `uda sweep`, or a run directory");
  return runs;
}

// A run's records and state, and its own page, written now (linked
// relative to `out`) when it has logged.
ComparedRun compared_run(RunRecord record, const RunLabel& label, const fs::path& out, int live_interval_s,
                         std::vector<std::string>& notes) {
  ComparedRun r;
  r.label = label;
  r.state = read_run_state(record.dir).state;
  const fs::path dir(record.dir);
  std::vector<std::string> run_notes;
  if (fs::exists(dir / "metrics.jsonl")) r.metrics = read_iter_records((dir / "metrics.jsonl").string(), run_notes);
  if (fs::exists(dir / "eval.jsonl")) r.evals = read_iter_records((dir / "eval.jsonl").string(), run_notes);
  if (r.metrics.by_iter.empty())
    run_notes.push_back("no page yet (nothing logged in metrics.jsonl)");
  else
    r.page = fs::relative(write_report(record.dir, "", live_interval_s), out).generic_string();
  for (const auto& n : run_notes) notes.push_back(dir.filename().string() + ": " + n);
  r.record = std::move(record);
  return r;
}

std::string run_name(const ComparedRun& r) { return fs::path(r.record.dir).filename().string(); }

std::string run_link(const ComparedRun& r) {
  const std::string name = html_escape(run_name(r));
  return r.page.empty() ? name : "<a href=\"" + html_escape(r.page) + "\">" + name + "</a>";
}

// A sample of the run's line in the charts.
std::string line_sample(const ComparedRun& r) {
  return "<svg width=\"32\" height=\"8\" role=\"img\" aria-label=\"" +
         std::string(r.label.member > 0 ? "dashed" : "solid") + " line\"><line x1=\"0\" y1=\"4\" x2=\"32\" y2=\"4\" "
         "stroke-width=\"3\" stroke=\"" + series_colour(r.label.group_index) + "\"" +
         (r.label.member > 0 ? " stroke-dasharray=\"6 3\"" : "") + "/></svg>";
}

// The final evaluation of a run: final_eval.json, else its last evaluation.
json final_eval(const ComparedRun& r) {
  if (r.record.final_eval.is_object()) return r.record.final_eval;
  return r.evals.by_iter.empty() ? json() : r.evals.by_iter.rbegin()->second;
}

// The summary metrics that some run's final evaluation has.
std::vector<SummaryMetric> final_metrics(const std::vector<ComparedRun>& runs) {
  std::vector<SummaryMetric> out;
  for (const auto& m : summary_metrics())
    if (std::any_of(runs.begin(), runs.end(),
                    [&](const ComparedRun& r) { return std::isfinite(number_or_nan(final_eval(r), m.key)); }))
      out.push_back(m);
  return out;
}

std::string runs_table(const std::vector<ComparedRun>& runs, const RunLabels& labels) {
  std::vector<std::string> keys = labels.group_keys;
  keys.insert(keys.end(), labels.seed_keys.begin(), labels.seed_keys.end());
  const auto metrics = final_metrics(runs);
  std::string html = "<table>\n<tr><th>line</th><th>run</th><th>state</th>";
  for (const auto& k : keys) html += "<th>" + html_escape(k) + "</th>";
  html += "<th>iteration</th>";
  for (const auto& m : metrics) html += "<th>" + std::string(m.label) + " (%)</th>";
  html += "</tr>\n";
  for (const auto& r : runs) {
    html += "<tr><td>" + line_sample(r) + "</td><td>" + run_link(r) + "</td><td>" + html_escape(r.state) + "</td>";
    for (const auto& k : keys) {
      const json& v = r.label.group.contains(k) ? r.label.group[k] : r.label.seed[k];
      html += "<td>" + html_escape(json_text(v)) + "</td>";
    }
    html += "<td class=\"num\">" +
            (r.metrics.by_iter.empty() ? std::string("-") : std::to_string(r.metrics.by_iter.rbegin()->first)) +
            "</td>";
    const json last = final_eval(r);
    for (const auto& m : metrics)
      html += "<td class=\"num\">" + format_percent(number_or_nan(last, m.key)) + "</td>";
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// One chart of `key` with a series per run: the group's colour, dashed for
// the second and later runs of a group.
LineChart overlay(const std::string& id, const std::vector<ComparedRun>& runs, bool eval, const std::string& key) {
  LineChart c;
  c.id = id;
  c.legend = runs.size() <= kMaxLegend;
  if (eval) {
    c.y_label = "%";
    c.unit = " %";
  } else {
    c.y_label = key;
    c.log_toggle = c.smooth = true;
  }
  for (const auto& r : runs)
    c.series.push_back({r.label.text, series_colour(r.label.group_index), r.label.member > 0,
                        curve(eval ? r.evals : r.metrics, key, eval ? 100 : 1)});
  return c;
}

// The summary metrics that some run's evaluations have.
std::vector<SummaryMetric> evaluated_metrics(const std::vector<ComparedRun>& runs) {
  std::vector<SummaryMetric> out;
  for (const auto& m : summary_metrics())
    if (std::any_of(runs.begin(), runs.end(), [&](const ComparedRun& r) {
          const auto present = summary_metrics_present(r.evals);
          return std::any_of(present.begin(), present.end(), [&](const SummaryMetric& p) { return p.key == m.key; });
        }))
      out.push_back(m);
  return out;
}

void curves_section(const std::vector<ComparedRun>& runs, ReportBody& body) {
  std::vector<std::string> losses;
  for (const auto& r : runs)
    for (const auto& k : loss_keys(r.metrics))
      if (std::find(losses.begin(), losses.end(), k) == losses.end()) losses.push_back(k);
  size_t n = 0;
  for (const auto& m : evaluated_metrics(runs))
    body.line_chart(std::string("Evaluation: ") + m.label, overlay("curve-" + std::to_string(n++), runs, true, m.key),
                    "");
  for (const auto& k : losses)
    body.line_chart("Training: " + html_escape(k), overlay("curve-" + std::to_string(n++), runs, false, k), "");
  if (n == 0) body.html += "<p>No run has logged a loss or an evaluation yet.</p>\n";
}

// `uda collect`'s table: DomainBed's tables (training-domain validation and
// oracle selection) when every run is a domain generalization run, else
// mean ± std over seeds of the oracle-selected mIoU (accuracy without mIoU).
std::string collect_section(const std::vector<ComparedRun>& runs) {
  std::vector<RunRecord> records;
  for (const auto& r : runs) records.push_back(r.record);
  std::string html = "<h2>Results (<code>uda collect</code>)</h2>\n";
  if (std::all_of(records.begin(), records.end(), is_dg_run)) {
    std::vector<std::string> notes;
    const auto dg = dg_runs(records, &notes);
    if (dg.empty()) return html + "<p>No finished domain generalization run yet.</p>\n";
    for (auto s : {DgSelection::kTrainingDomain, DgSelection::kOracle}) html += dg_html(dg_report(s, dg, notes));
    return html;
  }
  const bool miou = std::any_of(runs.begin(), runs.end(), [](const ComparedRun& r) {
    return std::isfinite(number_or_nan(final_eval(r), "miou"));
  });
  const CollectResult result = collect(records, "oracle", miou ? "miou" : "accuracy");
  if (result.groups.empty()) return html + "<p>No finished run with an evaluation yet.</p>\n";
  return html + collect_html(result, [&](const std::string& dir) {
           for (const auto& r : runs)
             if (r.record.dir == dir) return run_link(r);
           return html_escape(dir);
         });
}

std::string title_of(const std::vector<std::string>& dirs) {
  if (dirs.size() > 1) return std::to_string(dirs.size()) + " runs";
  const fs::path spec = fs::path(dirs.front()) / "sweep.json";
  if (fs::exists(spec)) {
    const json j = json::parse(fs_util::read_file(spec.string()), nullptr, false);
    if (j.is_object() && j.contains("name") && j["name"].is_string()) return "sweep " + j["name"].get<std::string>();
  }
  return fs::absolute(dirs.front()).lexically_normal().filename().string();
}

fs::path output_dir(const std::vector<std::string>& dirs, const std::string& out_dir) {
  if (!out_dir.empty()) return out_dir;
  if (dirs.size() > 1)
    throw UserError("several run directories and no --out", "uda report",
                    "give --out DIR for the comparison page (each run's own page goes into RUN/report)");
  return fs::path(dirs.front()) / "report";
}

}  // namespace

std::string write_comparison(const std::vector<std::string>& dirs, const std::string& out_dir, int live_interval_s) {
  const fs::path out = output_dir(dirs, out_dir);
  auto records = read_compared(dirs);
  const RunLabels labels = label_runs(records);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw UserError("cannot create the report directory" + (ec ? ": " + ec.message() : std::string()), out.string(),
                    "give a writable directory with --out");
  std::vector<std::string> notes;
  std::vector<ComparedRun> runs;
  for (size_t i = 0; i < records.size(); ++i)
    runs.push_back(compared_run(std::move(records[i]), labels.runs[i], fs::canonical(out), live_interval_s, notes));
  const std::string title = title_of(dirs);

  ReportBody body;
  body.html = "<h1>Comparison: " + html_escape(title) + "</h1>\n<p>" + std::to_string(runs.size()) +
              " run(s); each colour is one setting of the varied keys, dashed lines are further seeds or trials of "
              "it. A run's name links to its own page.</p>\n<h2>Runs</h2>\n" + runs_table(runs, labels);
  curves_section(runs, body);
  body.html += collect_section(runs);
  if (!notes.empty()) {
    body.html += "<h2>Notes</h2>\n<ul>\n";
    for (const auto& n : notes) body.html += "<li>" + html_escape(n) + "</li>\n";
    body.html += "</ul>\n";
  }
  const fs::path index = out / "index.html";
  fs_util::write_file_atomic(index.string(), report_page("uda report: " + title, body, live_interval_s));
  return index.string();
}

}  // namespace uda::cli
