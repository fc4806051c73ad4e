#include "launcher/report.h"

#include "core/error.h"
#include "core/fs.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::cli {

namespace {

constexpr Rgb kGridColour{225, 225, 225};
constexpr Rgb kAxisColour{0, 0, 0};
constexpr Rgb kAbsentColour{170, 170, 170};
constexpr int kMargin = 10;    // around the plot frame (the images hold no text)
constexpr int kBarRow = 18;    // per class in per_class_iou.png
constexpr int kLineWidth = 2;  // of the series
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------- reading

// The records of a .jsonl file by iteration. A record logged again for the
// same iteration (a run resumed from an earlier checkpoint) replaces the
// earlier one.
struct Records {
  std::map<int64_t, json> by_iter;
  size_t replaced = 0;
};

Records read_jsonl(const fs::path& path, std::vector<std::string>& notes) {
  const std::string name = path.filename().string();
  const std::string fix = "repair or delete that line (each line of " + name + " is one JSON object with \"iter\")";
  const std::string text = fs_util::read_file(path.string());
  Records out;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    const std::string n = std::to_string(line_no);
    if (j.is_discarded() && !terminated) {  // the trainer may be writing it right now
      notes.push_back(name + ": the last line (" + n + ") is incomplete and was left out");
      break;
    }
    if (j.is_discarded()) throw UserError("malformed JSON on line " + n + " of " + name, path.string() + ":" + n, fix);
    if (!j.is_object() || !j.contains("iter") || !j["iter"].is_number())
      throw UserError("line " + n + " of " + name + " is not a JSON object with a numeric \"iter\"",
                      path.string() + ":" + n, fix);
    const auto iter = static_cast<int64_t>(std::llround(j["iter"].get<double>()));
    if (!out.by_iter.insert_or_assign(iter, std::move(j)).second) ++out.replaced;
  }
  if (out.replaced)
    notes.push_back(name + ": " + std::to_string(out.replaced) +
                    " record(s) were logged again for the same iteration (a resumed run); the latest are shown");
  return out;
}

// A JSON file, or null when it does not exist.
json read_json_file(const fs::path& path) {
  if (!fs::exists(path)) return nullptr;
  json j = json::parse(fs_util::read_file(path.string()), nullptr, false);
  if (j.is_discarded())
    throw UserError("malformed JSON", path.string(), "repair the file, or delete it and train again to rewrite it");
  return j;
}

double number_or_nan(const json& obj, const std::string& key) {
  if (!obj.is_object()) return kNaN;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : kNaN;
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

// ---------------------------------------------------------------- formatting

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "n/a";
  char b[32];
  if (v == std::floor(v) && std::abs(v) < 1e12)
    std::snprintf(b, sizeof b, "%.0f", v);
  else
    std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// A fraction in [0, 1] as a percentage with two decimals.
std::string pct(double v) {
  if (!std::isfinite(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", 100 * v);
  return b;
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// ---------------------------------------------------------------- charts

// An axis with gridlines every `step` from `lo` to `hi` (multiples of step).
struct Axis {
  double lo = 0, hi = 1, step = 0.2;
};

Axis nice_axis(double lo, double hi, bool whole_steps) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double f = raw / mag;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  if (whole_steps) step = std::max(step, 1.0);
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), by x; y NaN = no value
};

struct LineChart {
  std::string file, title, x_label, y_label;
  std::string unit;  // after values in the legend
  std::vector<Series> series;
  bool fixed_y = false;  // y axis y_axis as given (else fitted to the data)
  Axis x_axis, y_axis;
};

bool has_values(const LineChart& c) {
  for (const auto& s : c.series)
    for (const auto& p : s.points)
      if (std::isfinite(p.second)) return true;
  return false;
}

// Fits the axes to the data and writes the chart; `has_values(c)` must hold.

// The plotting area of a chart of the report's width: kMargin on every side.
PlotFrame chart_frame(int height, double x_min, double x_max, double y_min, double y_max) {
  PlotFrame f;
  f.left = kMargin;
  f.top = kMargin;
  f.right = kReportChartWidth - 1 - kMargin;
  f.bottom = height - 1 - kMargin;
  f.x_min = x_min;
  f.x_max = x_max;
  f.y_min = y_min;
  f.y_max = y_max;
  return f;
}

void draw_line_chart(LineChart& c, const fs::path& out_dir) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : c.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(y)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  c.x_axis = nice_axis(x0, x1, true);
  if (!c.fixed_y) c.y_axis = nice_axis(y0, y1, false);

  PngCanvas canvas(kReportChartWidth, kReportChartHeight);
  const PlotFrame f = chart_frame(kReportChartHeight, c.x_axis.lo, c.x_axis.hi, c.y_axis.lo, c.y_axis.hi);
  canvas.grid(f, c.x_axis.step, c.y_axis.step, kGridColour, kAxisColour);
  for (size_t i = 0; i < c.series.size(); ++i) {
    const auto& pts = c.series[i].points;
    const Rgb colour = series_colour(i);
    for (size_t k = 0; k < pts.size(); ++k) {
      if (!std::isfinite(pts[k].second)) continue;
      const int x = f.px(pts[k].first), y = f.py(pts[k].second);
      const bool prev = k > 0 && std::isfinite(pts[k - 1].second);
      const bool next = k + 1 < pts.size() && std::isfinite(pts[k + 1].second);
      if (prev)
        canvas.line(f.px(pts[k - 1].first), f.py(pts[k - 1].second), x, y, colour, kLineWidth);
      else if (!next)  // an isolated value: a dot
        canvas.fill_rect(x - 2, y - 2, x + 2, y + 2, colour);
    }
  }
  canvas.border(f, kAxisColour);
  canvas.write_png((out_dir / c.file).string());
}

struct ClassIou {
  std::string name;
  double iou = kNaN;  // NaN: absent from the evaluation data
};

void draw_per_class_chart(const std::vector<ClassIou>& classes, const fs::path& out_dir) {
  const int height = per_class_chart_height(classes.size());
  PngCanvas canvas(kReportChartWidth, height);
  PlotFrame f = chart_frame(height, 0, 100, 0, 1);
  canvas.grid(f, 10, 0, kGridColour, kAxisColour);
  for (size_t i = 0; i < classes.size(); ++i) {
    const int top = f.top + static_cast<int>(i) * kBarRow + 3, bottom = top + kBarRow - 6;
    if (std::isfinite(classes[i].iou))
      canvas.fill_rect(f.px(0), top, f.px(100 * std::clamp(classes[i].iou, 0.0, 1.0)), bottom, series_colour(0));
    else  // a grey square marks a class without a value
      canvas.fill_rect(f.px(0) + 2, top + 2, f.px(0) + 2 + (bottom - top - 4), bottom - 2, kAbsentColour);
  }
  canvas.border(f, kAxisColour);
  canvas.write_png((out_dir / "per_class_iou.png").string());
}

// ---------------------------------------------------------------- the page

std::string axes_caption(const LineChart& c) {
  return "<p class=\"axes\">x: " + c.x_label + " from " + num(c.x_axis.lo) + " to " + num(c.x_axis.hi) +
         ", gridlines every " + num(c.x_axis.step) + ". y: " + c.y_label + " from " + num(c.y_axis.lo) + " to " +
         num(c.y_axis.hi) + ", gridlines every " + num(c.y_axis.step) + ".</p>\n";
}

// Same x and y everywhere (no value matching no value).
bool same_values(const Series& a, const Series& b) {
  if (a.points.size() != b.points.size()) return false;
  for (size_t k = 0; k < a.points.size(); ++k) {
    const auto &p = a.points[k], &q = b.points[k];
    if (p.first != q.first || (p.second != q.second && !(std::isnan(p.second) && std::isnan(q.second)))) return false;
  }
  return true;
}

std::string legend(const LineChart& c) {
  std::string out = "<ul class=\"legend\">\n";
  for (size_t i = 0; i < c.series.size(); ++i) {
    const auto& s = c.series[i];
    double lo = INFINITY, hi = -INFINITY, last = kNaN, last_x = kNaN;
    for (const auto& [x, y] : s.points)
      if (std::isfinite(y)) {
        lo = std::min(lo, y);
        hi = std::max(hi, y);
        last = y;
        last_x = x;
      }
    out += "<li><span class=\"swatch\" style=\"background:" + to_hex(series_colour(i)) + "\"></span>" +
           escape(s.name) + ": ";
    out += std::isfinite(last) ? "last " + num(last) + c.unit + " (iteration " + num(last_x) + "), min " + num(lo) +
                                     c.unit + ", max " + num(hi) + c.unit
                               : "no values";
    for (size_t j = 0; j < i && std::isfinite(last); ++j)
      if (same_values(c.series[j], s)) {
        out += "; the same values as " + escape(c.series[j].name) + ", whose line it covers";
        break;
      }
    out += "</li>\n";
  }
  return out + "</ul>\n";
}

// Draws the chart if it has values; returns its HTML section either way.
std::string chart_section(LineChart& c, const fs::path& out_dir, const std::string& when_empty) {
  std::string out = "<h2>" + c.title + "</h2>\n";
  if (!has_values(c)) {
    std::error_code ec;
    fs::remove(out_dir / c.file, ec);  // from an earlier report
    return out + "<p>" + when_empty + "</p>\n";
  }
  draw_line_chart(c, out_dir);
  out += "<img src=\"" + c.file + "\" alt=\"" + c.title + "\" width=\"" + std::to_string(kReportChartWidth) +
         "\" height=\"" + std::to_string(kReportChartHeight) + "\">\n";
  return out + axes_caption(c) + legend(c);
}

LineChart loss_chart(const Records& metrics) {
  LineChart c{"loss.png", "Training losses", "iteration", "loss (mean over the logging interval and the ranks)"};
  std::vector<std::string> keys;  // every key starting with "loss", first appearance first
  for (const auto& [iter, rec] : metrics.by_iter)
    for (const auto& [k, v] : rec.items())
      if (k.rfind("loss", 0) == 0 && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  for (const auto& k : keys) {
    Series s{k, {}};
    for (const auto& [iter, rec] : metrics.by_iter) s.points.emplace_back(static_cast<double>(iter), number_or_nan(rec, k));
    c.series.push_back(std::move(s));
  }
  return c;
}

LineChart lr_chart(const Records& metrics) {
  LineChart c{"lr.png", "Learning rate", "iteration", "learning rate (per optimizer and parameter group)"};
  std::vector<std::string> keys;
  for (const auto& [iter, rec] : metrics.by_iter) {
    const json& lr = rec.contains("lr") ? rec["lr"] : json();
    if (lr.is_number() && std::find(keys.begin(), keys.end(), "") == keys.end()) keys.push_back("");
    if (lr.is_object())
      for (const auto& [k, v] : lr.items())
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  for (const auto& k : keys) {
    Series s{k.empty() ? "lr" : "lr " + k, {}};
    for (const auto& [iter, rec] : metrics.by_iter) {
      const json& lr = rec.contains("lr") ? rec["lr"] : json();
      s.points.emplace_back(static_cast<double>(iter),
                            k.empty() ? (lr.is_number() ? lr.get<double>() : kNaN) : number_or_nan(lr, k));
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

// The summary metrics of an evaluation record: segmentation's mIoU and
// accuracy, domain generalization's training-domain validation and
// test-domain accuracy (worker/evaluator.h).
const std::vector<std::pair<const char*, const char*>> kSummaryMetrics = {
    {"miou", "mIoU"},
    {"accuracy", "accuracy"},
    {"train_domain_val_acc", "training-domain validation accuracy"},
    {"test_domain_acc", "test-domain accuracy"}};

std::vector<const char*> summary_keys(const Records& evals) {
  std::vector<const char*> out;
  for (const auto& [key, label] : kSummaryMetrics)
    for (const auto& [iter, rec] : evals.by_iter)
      if (std::isfinite(number_or_nan(rec, key))) {
        out.push_back(key);
        break;
      }
  return out;
}

LineChart eval_chart(const Records& evals) {
  LineChart c{"miou.png", "Evaluation", "iteration", "%"};
  c.unit = " %";
  c.fixed_y = true;
  c.y_axis = {0, 100, 10};
  for (const char* k : summary_keys(evals)) {
    Series s{k, {}};
    for (const auto& [iter, rec] : evals.by_iter) s.points.emplace_back(static_cast<double>(iter), 100 * number_or_nan(rec, k));
    c.series.push_back(std::move(s));
  }
  return c;
}

std::vector<ClassIou> class_ious(const json& eval) {
  std::vector<ClassIou> out;
  if (!eval.is_object() || !eval.contains("per_class_iou") || !eval["per_class_iou"].is_array()) return out;
  const json& ious = eval["per_class_iou"];
  const json& names = eval.contains("classes") && eval["classes"].is_array() ? eval["classes"] : json::array();
  for (size_t i = 0; i < ious.size(); ++i) {
    ClassIou c;
    c.name = i < names.size() ? value_text(names[i]) : "class " + std::to_string(i);
    if (ious[i].is_number()) c.iou = ious[i].get<double>();
    out.push_back(std::move(c));
  }
  return out;
}

std::string config_table(const json& cfg, const fs::path& run) {
  static const char* kKeys[] = {"algorithm.name",  "model.backbone.type", "model.head.type",   "model.num_classes",
                                "data.source.path", "data.target.path",   "data.batch_per_rank", "optimizer.type",
                                "optimizer.lr",     "schedule.policy",    "train.max_iters",   "train.seed",
                                "runtime.device",   "runtime.precision"};
  std::string out = "<table>\n<tr><th>key</th><th>value</th></tr>\n";
  for (const char* k : kKeys) {
    const json v = at_path(cfg, k);
    out += "<tr><td>" + std::string(k) + "</td><td>" +
           (v.is_null() ? std::string("<span class=\"dim\">not in config.json (default)</span>") : escape(value_text(v))) +
           "</td></tr>\n";
  }
  size_t ranks = 0;
  std::error_code ec;
  if (fs::is_directory(run / "status"))
    for (const auto& e : fs::directory_iterator(run / "status", ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("rank-", 0) == 0 && e.path().extension() == ".json") ++ranks;
    }
  out += "<tr><td>world size</td><td>" +
         (ranks ? std::to_string(ranks) + " (ranks with a status file)"
                : std::string("<span class=\"dim\">not recorded (no status/rank-N.json)</span>")) +
         "</td></tr>\n";
  if (fs::exists(run / "config.hash")) {
    std::string hash = fs_util::read_file((run / "config.hash").string());
    hash.erase(hash.find_last_not_of(" \t\r\n") + 1);
    out += "<tr><td>config hash</td><td>" + escape(hash) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

std::string last_record_table(const json& rec) {
  std::string out = "<table>\n<tr><th>key</th><th>value</th></tr>\n";
  for (const auto& [k, v] : rec.items()) {
    if (v.is_number())
      out += "<tr><td>" + escape(k) + "</td><td>" + num(v.get<double>()) + "</td></tr>\n";
    else if (v.is_null())
      out += "<tr><td>" + escape(k) + "</td><td>n/a</td></tr>\n";
  }
  return out + "</table>\n";
}

const char* kStyle =
    "body{font-family:sans-serif;margin:2em;max-width:60em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "td.num{text-align:right}.dim{color:#888}.axes{color:#444;font-size:90%}"
    "ul.legend{list-style:none;padding:0}.swatch{display:inline-block;width:1em;height:1em;margin-right:.5em;"
    "vertical-align:middle;border:1px solid #0003}img{border:0;display:block}";

}  // namespace

int per_class_chart_height(size_t n) {
  return 2 * kMargin + kBarRow * static_cast<int>(std::max<size_t>(n, 1));
}

Rgb series_colour(size_t i) {
  static const Rgb kPalette[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
                                 {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

std::string write_report(const std::string& run_dir, const std::string& out_dir) {
  const std::string fix_run = "give a run directory written by `uda train` (runs/<config>-<hash>, or its --work-dir)";
  if (!fs::is_directory(run_dir)) throw UserError("run directory not found", run_dir, fix_run);
  const fs::path run = fs::canonical(run_dir);
  const fs::path metrics_path = run / "metrics.jsonl";
  if (!fs::exists(metrics_path))
    throw UserError("no metrics.jsonl in the run directory", metrics_path.string(),
                    fix_run + "; the trainer writes it every train.log_interval iterations");

  std::vector<std::string> notes;
  const Records metrics = read_jsonl(metrics_path, notes);
  if (metrics.by_iter.empty())
    throw UserError("metrics.jsonl holds no record yet", metrics_path.string(),
                    "wait until the run has logged (every train.log_interval iterations)");
  Records evals;
  if (fs::exists(run / "eval.jsonl")) evals = read_jsonl(run / "eval.jsonl", notes);
  const json cfg = read_json_file(run / "config.json");
  if (cfg.is_null()) notes.push_back("config.json is missing: the configuration is unknown");
  json final_eval = read_json_file(run / "final_eval.json");
  std::string final_source = "final_eval.json";
  if (!final_eval.is_object() && !evals.by_iter.empty()) {
    final_eval = evals.by_iter.rbegin()->second;
    final_source = "the last record of eval.jsonl";
  }

  const fs::path out = out_dir.empty() ? run / "report" : fs::path(out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw UserError("cannot create the report directory" + (ec ? ": " + ec.message() : std::string()), out.string(),
                    "give a writable directory with --out");

  const std::string name = run.filename().string();
  const int64_t last_iter = metrics.by_iter.rbegin()->first;
  std::string status;
  if (fs::exists(run / "DONE")) {
    std::string done = fs_util::read_file((run / "DONE").string());
    done.erase(done.find_last_not_of(" \t\r\n") + 1);
    status = "finished (DONE" + (done.empty() ? std::string() : ": " + escape(done) + " iterations") + ")";
  } else {
    const json max_iters = at_path(cfg, "train.max_iters");
    status = "not finished: last logged iteration " + std::to_string(last_iter) +
             (max_iters.is_number() ? " of " + escape(value_text(max_iters)) : std::string());
  }

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>uda report: " +
                     escape(name) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>" + escape(name) + "</h1>\n";
  const json algorithm = at_path(cfg, "algorithm.name");
  html += "<p>Algorithm <b>" + escape(algorithm.is_null() ? "unknown" : value_text(algorithm)) +
          "</b>; " + status + ".<br>Run directory: <code>" + escape(run.string()) + "</code></p>\n";

  html += "<h2>Final metrics</h2>\n";
  if (final_eval.is_object()) {
    const double at = number_or_nan(final_eval, "iter");
    html += "<p>From " + final_source + (std::isfinite(at) ? " (iteration " + num(at) + ")" : std::string()) + ":";
    for (const auto& [key, label] : kSummaryMetrics)
      if (const double v = number_or_nan(final_eval, key); std::isfinite(v))
        html += std::string(" ") + label + " <b>" + pct(v) + " %</b>;";
    // The metric that selects the best checkpoint: mIoU, else DomainBed's
    // training-domain validation accuracy.
    const char* best_key = number_or_nan(final_eval, "miou") == number_or_nan(final_eval, "miou") ? "miou"
                                                                                                 : "train_domain_val_acc";
    double best = -INFINITY;
    int64_t best_at = 0;
    for (const auto& [iter, rec] : evals.by_iter)
      if (const double m = number_or_nan(rec, best_key); std::isfinite(m) && m > best) {
        best = m;
        best_at = iter;
      }
    if (std::isfinite(best))
      html += std::string(" best ") + best_key + " over " + std::to_string(evals.by_iter.size()) +
              " evaluation(s): " + pct(best) + " % at iteration " + std::to_string(best_at) + ".";
    html += "</p>\n";
  } else {
    html += "<p>No evaluation yet (no eval.jsonl records and no final_eval.json; the trainer evaluates every "
            "train.eval_interval iterations).</p>\n";
  }
  html += "<p>Last logged training record (iteration " + std::to_string(last_iter) + "):</p>\n" +
          last_record_table(metrics.by_iter.rbegin()->second);

  LineChart loss = loss_chart(metrics), lr = lr_chart(metrics), miou = eval_chart(evals);
  html += chart_section(loss, out, "No loss values (no key starting with \"loss\" in metrics.jsonl).");
  html += chart_section(lr, out, "No learning rates (no \"lr\" in metrics.jsonl).");
  html += chart_section(miou, out, "No evaluation yet: no mIoU curve.");

  const std::vector<ClassIou> classes = class_ious(final_eval);
  html += "<h2>Per-class IoU</h2>\n";
  if (classes.empty()) {
    fs::remove(out / "per_class_iou.png", ec);
    html += "<p>No per-class IoU yet (no evaluation).</p>\n";
  } else {
    draw_per_class_chart(classes, out);
    const double at = number_or_nan(final_eval, "iter");
    html += "<p>From " + final_source + (std::isfinite(at) ? " (iteration " + num(at) + ")" : std::string()) +
            ". One bar per class, top to bottom in the order of the table; x: IoU from 0 to 100 %, gridlines every "
            "10 %; a grey square marks a class absent from the evaluation data.</p>\n";
    html += "<img src=\"per_class_iou.png\" alt=\"per-class IoU\" width=\"" + std::to_string(kReportChartWidth) +
            "\" height=\"" + std::to_string(per_class_chart_height(classes.size())) + "\">\n";
    html += "<table>\n<tr><th>#</th><th>class</th><th>IoU (%)</th></tr>\n";
    for (size_t i = 0; i < classes.size(); ++i)
      html += "<tr><td class=\"num\">" + std::to_string(i) + "</td><td>" + escape(classes[i].name) +
              "</td><td class=\"num\">" +
              (std::isfinite(classes[i].iou) ? pct(classes[i].iou) : std::string("absent")) + "</td></tr>\n";
    html += "</table>\n";
  }

  html += "<h2>Configuration</h2>\n";
  html += cfg.is_null() ? std::string("<p>config.json is missing.</p>\n") : config_table(cfg, run);
  if (!notes.empty()) {
    html += "<h2>Notes</h2>\n<ul>\n";
    for (const auto& n : notes) html += "<li>" + escape(n) + "</li>\n";
    html += "</ul>\n";
  }
  html += "</body>\n</html>\n";

  const fs::path index = out / "index.html";
  fs_util::write_file_atomic(index.string(), html);
  return index.string();
}

}  // namespace uda::cli
