#include "launcher/report.h"

#include "core/error.h"
#include "core/fs.h"
#include "launcher/chart_spec.h"
#include "launcher/html.h"
#include "launcher/iter_records.h"
#include "launcher/pictures_section.h"
#include "launcher/report_page.h"
#include "launcher/run_curves.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::cli {

namespace {

// ---------------------------------------------------------------- reading

// What the page shows, read from the run directory.
struct RunFiles {
  fs::path run;
  IterRecords metrics, evals;
  json cfg;
  json final_eval;           // final_eval.json, else the last evaluation, else null
  std::string final_source;  // which of the two
  std::vector<std::string> notes;
};

// A JSON file, or null when it does not exist.
json read_json_file(const fs::path& path) {
  if (!fs::exists(path)) return nullptr;
  json j = json::parse(fs_util::read_file(path.string()), nullptr, false);
  if (j.is_discarded())
    throw UserError("malformed JSON", path.string(), "repair the file, or delete it and train again to rewrite it");
  return j;
}

// The value at a dotted path of a (nested) config, or null.
json at_path(const json& cfg, const std::string& dotted) {
  const json* cur = &cfg;
  std::istringstream parts(dotted);
  for (std::string p; std::getline(parts, p, '.');) {
    if (!cur->is_object() || !cur->contains(p)) return nullptr;
    cur = &(*cur)[p];
  }
  return *cur;
}

std::string trimmed_file(const fs::path& path) {
  std::string s = fs_util::read_file(path.string());
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

RunFiles read_run_files(const std::string& run_dir) {
  const std::string fix_run = "give a run directory written by `uda train` (runs/<config>-<hash>, or its --work-dir)";
  if (!fs::is_directory(run_dir)) throw UserError("run directory not found", run_dir, fix_run);
  RunFiles f;
  f.run = fs::canonical(run_dir);
  const fs::path metrics_path = f.run / "metrics.jsonl";
  if (!fs::exists(metrics_path))
    throw UserError("no metrics.jsonl in the run directory", metrics_path.string(),
                    fix_run + "; the trainer writes it every train.log_interval iterations");
  f.metrics = read_iter_records(metrics_path.string(), f.notes);
  if (f.metrics.by_iter.empty())
    throw UserError("metrics.jsonl holds no record yet", metrics_path.string(),
                    "wait until the run has logged (every train.log_interval iterations)");
  if (fs::exists(f.run / "eval.jsonl")) f.evals = read_iter_records((f.run / "eval.jsonl").string(), f.notes);
  f.cfg = read_json_file(f.run / "config.json");
  if (f.cfg.is_null()) f.notes.push_back("config.json is missing: the configuration is unknown");
  f.final_eval = read_json_file(f.run / "final_eval.json");
  f.final_source = "final_eval.json";
  if (!f.final_eval.is_object() && !f.evals.by_iter.empty()) {
    f.final_eval = f.evals.by_iter.rbegin()->second;
    f.final_source = "the last record of eval.jsonl";
  }
  return f;
}

// ---------------------------------------------------------------- text

std::string status_text(const RunFiles& f) {
  if (fs::exists(f.run / "DONE")) {
    const std::string done = trimmed_file(f.run / "DONE");
    return "finished (DONE" + (done.empty() ? std::string() : ": " + html_escape(done) + " iterations") + ")";
  }
  const json max_iters = at_path(f.cfg, "train.max_iters");
  return "not finished: last logged iteration " + std::to_string(f.metrics.by_iter.rbegin()->first) +
         (max_iters.is_number() ? " of " + html_escape(json_text(max_iters)) : std::string());
}

std::string header(const RunFiles& f) {
  const json algorithm = at_path(f.cfg, "algorithm.name");
  return "<h1>" + html_escape(f.run.filename().string()) + "</h1>\n<p>Algorithm <b>" +
         html_escape(algorithm.is_null() ? "unknown" : json_text(algorithm)) + "</b>; " + status_text(f) +
         ".<br>Run directory: <code>" + html_escape(f.run.string()) + "</code></p>\n";
}

std::string evaluated_at(const RunFiles& f) {
  const double at = number_or_nan(f.final_eval, "iter");
  return "From " + f.final_source + (std::isfinite(at) ? " (iteration " + format_number(at) + ")" : std::string());
}

// The best evaluation of the metric that selects the best checkpoint (mIoU,
// else DomainBed's training-domain validation accuracy).
std::string best_evaluation(const RunFiles& f) {
  const char* key = std::isfinite(number_or_nan(f.final_eval, "miou")) ? "miou" : "train_domain_val_acc";
  double best = -INFINITY;
  int64_t best_at = 0;
  for (const auto& [iter, rec] : f.evals.by_iter)
    if (const double m = number_or_nan(rec, key); std::isfinite(m) && m > best) {
      best = m;
      best_at = iter;
    }
  if (!std::isfinite(best)) return "";
  return std::string(" best ") + key + " over " + std::to_string(f.evals.by_iter.size()) +
         " evaluation(s): " + format_percent(best) + " % at iteration " + std::to_string(best_at) + ".";
}

std::string final_metrics_section(const RunFiles& f) {
  std::string html = "<h2>Final metrics</h2>\n";
  if (!f.final_eval.is_object())
    return html + "<p>No evaluation yet (no eval.jsonl records and no final_eval.json; the trainer evaluates every "
                  "train.eval_interval iterations).</p>\n";
  html += "<p>" + evaluated_at(f) + ":";
  for (const auto& m : summary_metrics())
    if (const double v = number_or_nan(f.final_eval, m.key); std::isfinite(v))
      html += std::string(" ") + m.label + " <b>" + format_percent(v) + " %</b>;";
  return html + best_evaluation(f) + "</p>\n";
}

std::string last_record_section(const IterRecords& metrics) {
  const auto& [iter, rec] = *metrics.by_iter.rbegin();
  std::string html = "<h2>Last logged training record</h2>\n<p>Iteration " + std::to_string(iter) +
                     ":</p>\n<table>\n<tr><th>key</th><th>value</th></tr>\n";
  for (const auto& [k, v] : rec.items()) {
    if (v.is_number())
      html += "<tr><td>" + html_escape(k) + "</td><td class=\"num\">" + format_number(v.get<double>()) + "</td></tr>\n";
    else if (v.is_null())
      html += "<tr><td>" + html_escape(k) + "</td><td>n/a</td></tr>\n";
  }
  return html + "</table>\n";
}

size_t ranks_with_status(const fs::path& run) {
  size_t ranks = 0;
  std::error_code ec;
  if (fs::is_directory(run / "status"))
    for (const auto& e : fs::directory_iterator(run / "status", ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("rank-", 0) == 0 && e.path().extension() == ".json") ++ranks;
    }
  return ranks;
}

std::string config_section(const RunFiles& f) {
  std::string html = "<h2>Configuration</h2>\n";
  if (f.cfg.is_null()) return html + "<p>config.json is missing.</p>\n";
  static const char* kKeys[] = {"algorithm.name",  "model.backbone.type", "model.head.type",   "model.num_classes",
                                "data.source.path", "data.target.path",   "data.batch_per_rank", "optimizer.type",
                                "optimizer.lr",     "schedule.policy",    "train.max_iters",   "train.seed",
                                "runtime.device",   "runtime.precision"};
  html += "<table>\n<tr><th>key</th><th>value</th></tr>\n";
  for (const char* k : kKeys) {
    const json v = at_path(f.cfg, k);
    html += "<tr><td>" + std::string(k) + "</td><td>" +
            (v.is_null() ? std::string("<span class=\"dim\">not in config.json (default)</span>")
                         : html_escape(json_text(v))) +
            "</td></tr>\n";
  }
  const size_t ranks = ranks_with_status(f.run);
  html += "<tr><td>world size</td><td>" +
          (ranks ? std::to_string(ranks) + " (ranks with a status file)"
                 : std::string("<span class=\"dim\">not recorded (no status/rank-N.json)</span>")) +
          "</td></tr>\n";
  if (fs::exists(f.run / "config.hash"))
    html += "<tr><td>config hash</td><td>" + html_escape(trimmed_file(f.run / "config.hash")) + "</td></tr>\n";
  return html + "</table>\n";
}

std::string notes_section(const std::vector<std::string>& notes) {
  if (notes.empty()) return "";
  std::string html = "<h2>Notes</h2>\n<ul>\n";
  for (const auto& n : notes) html += "<li>" + html_escape(n) + "</li>\n";
  return html + "</ul>\n";
}

// ---------------------------------------------------------------- charts

LineChart loss_chart(const IterRecords& metrics) {
  LineChart c;
  c.id = "loss";
  c.y_label = "loss (mean over the logging interval and the ranks)";
  c.log_toggle = c.smooth = true;
  for (const auto& k : loss_keys(metrics))
    c.series.push_back({k, series_colour(c.series.size()), false, curve(metrics, k)});
  return c;
}

// One series per optimizer and parameter group ("lr": {"model": ..,
// "model.head": ..}), or one when "lr" is a number.
LineChart lr_chart(const IterRecords& metrics) {
  LineChart c;
  c.id = "lr";
  c.y_label = "learning rate";
  c.log_toggle = true;
  std::vector<std::string> groups;
  for (const auto& [iter, rec] : metrics.by_iter) {
    const json& lr = rec.contains("lr") ? rec["lr"] : json();
    if (lr.is_number() && std::find(groups.begin(), groups.end(), "") == groups.end()) groups.push_back("");
    if (lr.is_object())
      for (const auto& [k, v] : lr.items())
        if (std::find(groups.begin(), groups.end(), k) == groups.end()) groups.push_back(k);
  }
  for (const auto& g : groups) {
    ChartSeries s{g.empty() ? "lr" : "lr " + g, series_colour(c.series.size()), false, {}};
    for (const auto& [iter, rec] : metrics.by_iter) {
      const json& lr = rec.contains("lr") ? rec["lr"] : json();
      const double v = g.empty() ? (lr.is_number() ? lr.get<double>() : NAN) : number_or_nan(lr, g);
      s.points.emplace_back(static_cast<double>(iter), v);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

LineChart percent_chart(const std::string& id, const std::string& y_label) {
  LineChart c;
  c.id = id;
  c.y_label = y_label;
  c.unit = " %";
  c.y_min = 0;
  c.y_max = 100;
  return c;
}

LineChart eval_chart(const IterRecords& evals) {
  LineChart c = percent_chart("eval", "%");
  for (const auto& m : summary_metrics_present(evals))
    c.series.push_back({m.label, series_colour(c.series.size()), false, curve(evals, m.key, 100)});
  return c;
}

// The last value of `key` among the records that have it (or null).
json last_of(const IterRecords& records, const std::string& key) {
  for (auto it = records.by_iter.rbegin(); it != records.by_iter.rend(); ++it)
    if (it->second.contains(key)) return it->second[key];
  return nullptr;
}

// Domain generalization: each domain's in- and out-split accuracy (out
// dashed), labelled with the domain names of eval.jsonl, the test domains
// (eval.jsonl, else the config) marked.
LineChart domain_chart(const IterRecords& evals, const json& cfg) {
  LineChart c = percent_chart("domains", "accuracy (%)");
  const json names = last_of(evals, "domains");
  json tests = last_of(evals, "test_domains");
  if (tests.is_null()) tests = at_path(cfg, "data.test_domains");
  for (size_t d = 0;; ++d) {
    const std::string env = "env" + std::to_string(d);
    if (last_of(evals, env + "_in_acc").is_null() && last_of(evals, env + "_out_acc").is_null()) break;
    std::string name = names.is_array() && d < names.size() ? json_text(names[d]) : env;
    if (tests.is_array() && std::find(tests.begin(), tests.end(), json(d)) != tests.end()) name += " (test)";
    c.series.push_back({name + " in", series_colour(d), false, curve(evals, env + "_in_acc", 100)});
    c.series.push_back({name + " out", series_colour(d), true, curve(evals, env + "_out_acc", 100)});
  }
  return c;
}

std::vector<std::string> class_names(const json& eval, size_t n) {
  std::vector<std::string> out;
  const json& names = eval.contains("classes") && eval["classes"].is_array() ? eval["classes"] : json::array();
  for (size_t i = 0; i < n; ++i) out.push_back(i < names.size() ? json_text(names[i]) : "class " + std::to_string(i));
  return out;
}

size_t class_count(const json& eval) {
  return eval.is_object() && eval.contains("per_class_iou") && eval["per_class_iou"].is_array()
             ? eval["per_class_iou"].size()
             : 0;
}

double iou_of(const json& eval, size_t c) {
  const json& ious = eval["per_class_iou"];
  return c < ious.size() && ious[c].is_number() ? ious[c].get<double>() : NAN;
}

LineChart per_class_curves(const IterRecords& evals, const std::vector<std::string>& names) {
  LineChart c = percent_chart("per-class-curves", "IoU (%)");
  for (size_t k = 0; k < names.size(); ++k) {
    ChartSeries s{names[k], series_colour(k), false, {}};
    for (const auto& [iter, rec] : evals.by_iter)
      s.points.emplace_back(static_cast<double>(iter), class_count(rec) ? 100 * iou_of(rec, k) : NAN);
    c.series.push_back(std::move(s));
  }
  return c;
}

void per_class_section(const RunFiles& f, ReportBody& body) {
  body.html += "<h2>Per-class IoU</h2>\n";
  const size_t n = class_count(f.final_eval);
  if (n == 0) {
    body.html += "<p>No per-class IoU yet (no evaluation of a segmentation run).</p>\n";
    return;
  }
  const auto names = class_names(f.final_eval, n);
  body.html += "<p>" + evaluated_at(f) + "; a class absent from the evaluation data has no bar.</p>\n";
  BarChart bars{"per-class", "IoU (%)", " %", series_colour(0), 100, names, {}};
  for (size_t k = 0; k < n; ++k) bars.values.push_back(100 * iou_of(f.final_eval, k));
  body.bar_chart(bars);
  body.html += "<h3>Over the evaluations</h3>\n";
  body.line_chart_only(per_class_curves(f.evals, names));
  body.html += "<table>\n<tr><th>#</th><th>class</th><th>IoU (%)</th></tr>\n";
  for (size_t k = 0; k < n; ++k) {
    const double v = iou_of(f.final_eval, k);
    body.html += "<tr><td class=\"num\">" + std::to_string(k) + "</td><td>" + html_escape(names[k]) +
                 "</td><td class=\"num\">" + (std::isfinite(v) ? format_percent(v) : std::string("absent")) +
                 "</td></tr>\n";
  }
  body.html += "</table>\n";
}

// A small chart per other logged value (step and data time, memory, ...)
// and the time each evaluation took.
void other_values_section(const RunFiles& f, ReportBody& body) {
  std::vector<std::pair<std::string, LineChart>> charts;
  auto add = [&](const IterRecords& records, const std::string& key, bool smooth) {
    LineChart c;
    c.id = "value-" + std::to_string(charts.size());
    c.y_label = key;
    c.smooth = smooth;
    c.small = true;
    c.legend = false;
    c.series.push_back({key, series_colour(0), false, curve(records, key)});
    if (has_values(c)) charts.emplace_back(key, std::move(c));
  };
  for (const auto& k : other_numeric_keys(f.metrics)) add(f.metrics, k, true);
  add(f.evals, "eval_seconds", false);
  if (charts.empty()) return;
  body.html += "<h2>Other logged values</h2>\n<div class=\"chart-grid\">\n";
  for (const auto& [key, c] : charts) {
    body.html += "<div><h3>" + html_escape(key) + "</h3>\n";
    body.line_chart_only(c);
    body.html += "</div>\n";
  }
  body.html += "</div>\n";
}

}  // namespace

bool is_run_dir(const std::string& dir) {
  return fs::exists(fs::path(dir) / "config.json") || fs::exists(fs::path(dir) / "metrics.jsonl");
}

std::string write_report(const std::string& run_dir, const std::string& out_dir, int live_interval_s) {
  const RunFiles f = read_run_files(run_dir);
  const fs::path out = out_dir.empty() ? f.run / "report" : fs::path(out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw UserError("cannot create the report directory" + (ec ? ": " + ec.message() : std::string()), out.string(),
                    "give a writable directory with --out");

  ReportBody body;
  body.html = header(f) + final_metrics_section(f);
  body.line_chart("Training losses", loss_chart(f.metrics), "No loss values (no key starting with \"loss\" in metrics.jsonl).");
  body.line_chart("Learning rate", lr_chart(f.metrics), "No learning rates (no \"lr\" in metrics.jsonl).");
  body.line_chart("Evaluation", eval_chart(f.evals), "No evaluation yet: no evaluation curve.");
  if (const LineChart domains = domain_chart(f.evals, f.cfg); has_values(domains))
    body.line_chart("Accuracy per domain (in split solid, out split dashed)", domains, "");
  per_class_section(f, body);
  body.html += pictures_section(f.run);
  other_values_section(f, body);
  body.html += last_record_section(f.metrics) + config_section(f) + notes_section(f.notes);

  const fs::path index = out / "index.html";
  fs_util::write_file_atomic(index.string(),
                             report_page("uda report: " + f.run.filename().string(), body, live_interval_s));
  return index.string();
}

}  // namespace uda::cli
