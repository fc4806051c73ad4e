#include "launcher/dg_runs.h"

#include <algorithm>
#include <map>
#include <tuple>

using nlohmann::json;

namespace uda::cli {

namespace {

json config_value(const RunRecord& r, const std::string& key) {
  auto it = r.config.find(key);
  return it == r.config.end() ? json() : it->second;
}

// The config value, or the declared default (core/common_keys.cpp) of a key
// the config lacks.
template <class T>
T config_or(const RunRecord& r, const std::string& key, T def) {
  const json v = config_value(r, key);
  return v.is_null() ? def : v.get<T>();
}

// DomainBed counts the domains of a record by its env{i}_out_acc keys
// (model_selection.py:84-88); each needs its env{i}_in_acc too.
bool read_checkpoint(const json& e, DgCheckpoint* c) {
  if (!e.contains("iter") || !e["iter"].is_number_integer()) return false;
  c->step = e["iter"].get<int64_t>();
  for (size_t i = 0;; ++i) {
    const std::string in = "env" + std::to_string(i) + "_in_acc", out = "env" + std::to_string(i) + "_out_acc";
    if (!e.contains(out)) break;
    if (!e[out].is_number() || !e.contains(in) || !e[in].is_number()) return false;
    c->in_acc.push_back(e[in].get<double>());
    c->out_acc.push_back(e[out].get<double>());
  }
  return !c->out_acc.empty();
}

DgRun to_dg_run(const RunRecord& r, std::vector<std::string>* notes) {
  DgRun run;
  run.dir = r.dir;
  const json name = r.sweep.is_object() && r.sweep.contains("domainbed") ? r.sweep["domainbed"].value("dataset", json())
                                                                           : json();
  run.dataset = name.is_string() ? name.get<std::string>() : config_or<std::string>(r, "data.source.path", "");
  run.algorithm = config_or<std::string>(r, "algorithm.name", "source_only");
  run.test_envs = config_value(r, "data.test_domains").get<std::vector<int64_t>>();
  run.trial_seed = config_or<int64_t>(r, "data.split_seed", 0);
  run.hparams_seed = config_or<int64_t>(r, "train.hparams_seed", 0);
  std::map<int64_t, DgCheckpoint> by_step;
  size_t bad = 0;
  for (const auto& e : r.evals) {
    DgCheckpoint c;
    if (!read_checkpoint(e, &c)) {
      ++bad;
      continue;
    }
    by_step[c.step] = std::move(c);
    if (e.contains("domains") && e["domains"].is_array()) run.domains = e["domains"].get<std::vector<std::string>>();
  }
  for (auto& [step, c] : by_step) run.checkpoints.push_back(std::move(c));
  if (bad > 0)
    notes->push_back(r.dir + ": " + std::to_string(bad) +
                     " evaluation(s) without iter and every domain's env<i>_in_acc/env<i>_out_acc left out");
  return run;
}

}  // namespace

bool is_dg_run(const RunRecord& run) {
  const json t = config_value(run, "data.test_domains");
  return t.is_array() && !t.empty();
}

std::vector<DgRun> dg_runs(const std::vector<RunRecord>& runs, std::vector<std::string>* notes) {
  std::vector<DgRun> out;
  for (const auto& r : runs) {
    if (!is_dg_run(r)) {
      notes->push_back(r.dir + ": left out (not a domain generalization run: no data.test_domains)");
    } else if (!r.done) {
      notes->push_back(r.dir + ": left out (not finished)");
    } else {
      out.push_back(to_dg_run(r, notes));
    }
  }
  std::sort(out.begin(), out.end(), [](const DgRun& a, const DgRun& b) {
    return std::tie(a.dataset, a.algorithm, a.trial_seed, a.hparams_seed, a.test_envs, a.dir) <
           std::tie(b.dataset, b.algorithm, b.trial_seed, b.hparams_seed, b.test_envs, b.dir);
  });
  return out;
}

}  // namespace uda::cli
