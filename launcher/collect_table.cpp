#include "launcher/collect_table.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace uda::cli {

namespace {

// The training-domain validation value of an eval record, if it has one:
// {"train_val": {"miou": ...}} or "train_val_miou".
std::optional<double> train_val_of(const nlohmann::json& e, const std::string& metric) {
  if (e.contains("train_val") && e["train_val"].is_object() && e["train_val"].contains(metric) &&
      e["train_val"][metric].is_number())
    return e["train_val"][metric].get<double>();
  const std::string k = "train_val_" + metric;
  if (e.contains(k) && e[k].is_number()) return e[k].get<double>();
  return std::nullopt;
}

// `metric` is a key of the evaluation record (miou, accuracy, ...) or
// `iou.<class name>`: that class's entry of per_class_iou.
std::optional<double> metric_of(const nlohmann::json& e, const std::string& metric) {
  if (!e.is_object()) return std::nullopt;
  if (e.contains(metric) && e[metric].is_number()) return e[metric].get<double>();
  if (metric.rfind("iou.", 0) == 0 && e.contains("classes") && e.contains("per_class_iou")) {
    const auto& classes = e["classes"];
    const auto& ious = e["per_class_iou"];
    for (size_t c = 0; c < classes.size() && c < ious.size(); ++c)
      if (classes[c].is_string() && classes[c].get<std::string>() == metric.substr(4) && ious[c].is_number())
        return ious[c].get<double>();
  }
  return std::nullopt;
}

bool is_task_key(const std::string& k) {
  return k == "algorithm.name" || (k.rfind("data.", 0) == 0 && k.size() > 5 && k.substr(k.size() - 5) == ".path");
}

std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string pct(double v) {
  char b[32];
  snprintf(b, sizeof b, "%.2f", 100 * v);
  return b;
}

}  // namespace

std::optional<double> select_value(const RunRecord& run, const std::string& select, const std::string& metric,
                                   std::string* why) {
  if (!run.done) {
    *why = "not finished";
    return std::nullopt;
  }
  if (select == "last") {
    if (auto v = metric_of(run.final_eval, metric)) return v;
    if (!run.evals.empty())
      if (auto v = metric_of(run.evals.back(), metric)) return v;
    *why = "no final evaluation with '" + metric + "'";
    return std::nullopt;
  }
  std::optional<double> best_sel, value;
  for (const auto& e : run.evals) {
    const auto m = metric_of(e, metric);
    if (!m) continue;
    const auto s = select == "oracle" ? m : train_val_of(e, metric);
    if (!s) continue;
    if (!best_sel || *s > *best_sel) {  // the first of equal values, as DomainBed's argmax
      best_sel = s;
      value = m;
    }
  }
  if (!value)
    *why = select == "oracle" ? "no evaluation with '" + metric + "'"
                              : "no training-domain validation metric (train_val_" + metric + ") in eval.jsonl";
  return value;
}

CollectResult collect(const std::vector<RunRecord>& runs, const std::string& select, const std::string& metric) {
  CollectResult r;
  r.select = select;
  r.metric = metric;
  // Keys whose values differ between runs: the task and hyper-parameters.
  std::set<std::string> all_keys;
  for (const auto& run : runs)
    for (const auto& [k, v] : run.config) all_keys.insert(k);
  for (const auto& k : all_keys) {
    if (k == "train.seed") continue;
    std::set<std::string> seen;
    for (const auto& run : runs) {
      auto it = run.config.find(k);
      seen.insert(it == run.config.end() ? "<absent>" : it->second.dump());
    }
    if (seen.size() > 1) (is_task_key(k) ? r.task_keys : r.hparam_keys).push_back(k);
  }
  size_t missing_train_val = 0, with_value = 0;
  std::map<std::string, size_t> index;  // group key -> position
  for (const auto& run : runs) {
    std::string why;
    const auto v = select_value(run, select, metric, &why);
    if (!v) {
      r.notes.push_back(run.dir + ": left out (" + why + ")");
      if (why.find("train_val") != std::string::npos) ++missing_train_val;
      continue;
    }
    ++with_value;
    Group g;
    for (const auto& k : r.task_keys) g.task[k] = run.config.count(k) ? run.config.at(k) : nlohmann::json();
    for (const auto& k : r.hparam_keys) g.hparams[k] = run.config.count(k) ? run.config.at(k) : nlohmann::json();
    const std::string key = g.task.dump() + g.hparams.dump();
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, r.groups.size()).first;
      r.groups.push_back(std::move(g));
    }
    r.groups[it->second].runs.push_back(run.dir);
    r.groups[it->second].values.push_back(*v);
  }
  if (select == "train_val" && with_value == 0 && missing_train_val > 0)
    throw UserError("--select train_val needs a training-domain validation metric, and no run has one", "eval.jsonl",
                    "evaluate a held-out split of the source domain (records with train_val_" + metric +
                        "), or use --select oracle (test-domain oracle) or --select last");
  std::map<std::string, size_t> best;  // task -> best group
  for (size_t i = 0; i < r.groups.size(); ++i) {
    auto& g = r.groups[i];
    const double n = static_cast<double>(g.values.size());
    double s = 0;
    for (double v : g.values) s += v;
    g.mean = s / n;
    if (g.values.size() > 1) {
      double ss = 0;
      for (double v : g.values) ss += (v - g.mean) * (v - g.mean);
      g.std = std::sqrt(ss / (n - 1));
    }
    const std::string t = g.task.dump();
    if (!best.count(t) || g.mean > r.groups[best[t]].mean) best[t] = i;
  }
  for (const auto& [t, i] : best) r.groups[i].selected = true;
  return r;
}

std::string format_markdown(const CollectResult& r) {
  std::string out = "Selection: " + r.select + ", metric: " + r.metric + " (%, mean ± sample std over seeds)\n\n|";
  for (const auto& k : r.task_keys) out += " " + k + " |";
  for (const auto& k : r.hparam_keys) out += " " + k + " |";
  out += " " + r.metric + " | n | selected |\n|";
  for (size_t i = 0; i < r.task_keys.size() + r.hparam_keys.size() + 3; ++i) out += "---|";
  out += "\n";
  for (const auto& g : r.groups) {
    out += "|";
    for (const auto& k : r.task_keys) out += " " + value_text(g.task[k]) + " |";
    for (const auto& k : r.hparam_keys) out += " " + value_text(g.hparams[k]) + " |";
    out += " " + pct(g.mean) + " ± " + (g.std ? pct(*g.std) : std::string("n/a")) + " | " +
           std::to_string(g.values.size()) + " | " + (g.selected ? "*" : "") + " |\n";
  }
  if (!r.notes.empty()) {
    out += "\n" + std::to_string(r.notes.size()) + " run(s) left out:\n";
    for (const auto& n : r.notes) out += "- " + n + "\n";
  }
  return out;
}

std::string format_csv(const CollectResult& r) {
  auto cell = [](std::string s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  for (const auto& k : r.task_keys) out += cell(k) + ",";
  for (const auto& k : r.hparam_keys) out += cell(k) + ",";
  out += "metric,select,mean,std,n,selected\n";
  for (const auto& g : r.groups) {
    for (const auto& k : r.task_keys) out += cell(value_text(g.task[k])) + ",";
    for (const auto& k : r.hparam_keys) out += cell(value_text(g.hparams[k])) + ",";
    char b[64];
    snprintf(b, sizeof b, "%.17g", g.mean);
    out += cell(r.metric) + "," + r.select + "," + b + ",";
    if (g.std) {
      snprintf(b, sizeof b, "%.17g", *g.std);
      out += b;
    }
    out += "," + std::to_string(g.values.size()) + "," + (g.selected ? "1" : "0") + "\n";
  }
  return out;
}

nlohmann::json to_json(const CollectResult& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : r.groups) {
    nlohmann::json j;
    j["task"] = g.task;
    j["hparams"] = g.hparams;
    j["metric"] = r.metric;
    j["select"] = r.select;
    j["mean"] = g.mean;
    j["std"] = g.std ? nlohmann::json(*g.std) : nlohmann::json();
    j["n"] = g.values.size();
    j["values"] = g.values;
    j["runs"] = g.runs;
    j["selected"] = g.selected;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace uda::cli
