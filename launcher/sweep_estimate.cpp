#include "launcher/sweep_estimate.h"

#include "core/config.h"
#include "launcher/run_record.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::cli {

namespace {

template <class T>
T value_or(const json& cfg, const std::string& pointer, T def) {
  return cfg.is_object() ? cfg.value(json::json_pointer(pointer), def) : def;
}

double mean_of(const std::vector<json>& lines, const std::string& key, size_t skip) {
  std::vector<double> v;
  for (const auto& l : lines)
    if (l.contains(key) && l[key].is_number()) v.push_back(l[key].get<double>());
  if (v.size() > skip) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(skip));
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / static_cast<double>(v.size());
}

std::optional<double> mean_over(const std::vector<RunTiming>& timings, const std::function<bool(const RunTiming&)>& use,
                                const std::function<std::optional<double>(const RunTiming&)>& value) {
  double s = 0;
  size_t n = 0;
  for (const auto& t : timings)
    if (use(t))
      if (const auto v = value(t)) {
        s += *v;
        ++n;
      }
  if (n == 0) return std::nullopt;
  return s / static_cast<double>(n);
}

// The mean of `value` over the closest matching runs.
std::optional<double> closest(const JobShape& job, const std::vector<RunTiming>& timings,
                              const std::function<std::optional<double>(const RunTiming&)>& value) {
  const std::function<bool(const RunTiming&)> levels[] = {
      [&](const RunTiming& t) { return t.shape.source == job.source && t.shape.algorithm == job.algorithm; },
      [&](const RunTiming& t) { return t.shape.source == job.source; },
      [](const RunTiming&) { return true; }};
  for (const auto& use : levels)
    if (const auto v = mean_over(timings, use, value)) return v;
  return std::nullopt;
}

}  // namespace

JobShape job_shape(const json& cfg) {
  JobShape s;
  s.source = value_or<std::string>(cfg, "/data/source/path", "");
  s.algorithm = value_or<std::string>(cfg, "/algorithm/name", "");
  s.iterations = value_or<int64_t>(cfg, "/train/max_iters", 0);
  const int64_t interval = value_or<int64_t>(cfg, "/train/eval_interval", 0);
  s.evaluations = interval > 0 ? (s.iterations + interval - 1) / interval : 1;
  s.batch_per_rank = std::max<int64_t>(1, value_or<int64_t>(cfg, "/data/batch_per_rank", 1));
  return s;
}

std::optional<RunTiming> read_timing(const std::string& run_dir) {
  const RunRecord r = read_run(run_dir);
  if (!r.done) return std::nullopt;
  const auto metrics = read_jsonl((fs::path(run_dir) / "metrics.jsonl").string());
  const double step = mean_of(metrics, "step_time", 1);  // the first iteration warms up
  if (std::isnan(step)) return std::nullopt;
  RunTiming t;
  t.shape = job_shape(config::read_json_file((fs::path(run_dir) / "config.json").string()));
  t.seconds_per_sample = step / static_cast<double>(t.shape.batch_per_rank);
  const double eval = mean_of(r.evals, "eval_seconds", 0);
  if (!std::isnan(eval)) t.eval_seconds = eval;
  return t;
}

std::vector<RunTiming> read_timings(const std::string& sweep_dir) {
  std::vector<RunTiming> out;
  if (!fs::is_directory(sweep_dir)) return out;
  for (const auto& r : read_runs(sweep_dir))
    if (auto t = read_timing(r.dir)) out.push_back(std::move(*t));
  return out;
}

std::optional<double> job_seconds(const JobShape& job, const std::vector<RunTiming>& timings) {
  const auto per_sample =
      closest(job, timings, [](const RunTiming& t) { return std::optional<double>(t.seconds_per_sample); });
  if (!per_sample) return std::nullopt;
  const auto eval = closest(job, timings, [](const RunTiming& t) { return t.eval_seconds; });
  return static_cast<double>(job.iterations * job.batch_per_rank) * *per_sample +
         static_cast<double>(job.evaluations) * eval.value_or(0.0);
}

std::string format_duration(double seconds) {
  char b[64];
  const long s = std::lround(seconds), min = (s + 30) / 60;
  if (s < 60)
    snprintf(b, sizeof b, "%ld s", s);
  else if (min < 60)
    snprintf(b, sizeof b, "%ld min", min);
  else
    snprintf(b, sizeof b, "%ld h %02ld min", min / 60, min % 60);
  return b;
}

}  // namespace uda::cli
