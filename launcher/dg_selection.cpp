#include "launcher/dg_selection.h"

#include "core/error.h"
#include "launcher/numpy_reduce.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

namespace uda::cli {

namespace {

bool has_env(const DgCheckpoint& c, int64_t env) { return env >= 0 && env < static_cast<int64_t>(c.in_acc.size()); }

// IIDAccuracySelectionMethod._step_acc (:80-93): the mean of the training
// domains' out-split accuracies; the test domain's in-split accuracy.
std::optional<DgAcc> iid_step_acc(const DgCheckpoint& c, int64_t t) {
  if (!has_env(c, t)) return std::nullopt;
  std::vector<double> val;
  for (size_t i = 0; i < c.out_acc.size(); ++i)
    if (static_cast<int64_t>(i) != t) val.push_back(c.out_acc[i]);
  return DgAcc{np_mean(val), c.in_acc[t], c.step};
}

// run_acc (:95-100): the first checkpoint of the highest val_acc (Q.argmax =
// Python's max) among the single-test-domain runs' records.
std::optional<DgAcc> training_domain(const std::vector<const DgRun*>& runs, int64_t t) {
  std::optional<DgAcc> best;
  for (const DgRun* r : runs) {
    if (r->test_envs.size() != 1) continue;  // get_test_records, :6-9
    for (const auto& c : r->checkpoints) {
      const auto a = iid_step_acc(c, t);
      if (a && (!best || a->val_acc > best->val_acc)) best = a;
    }
  }
  return best;
}

// OracleSelectionMethod.run_acc (:60-73): the last checkpoint (the last of
// the highest step after a stable sort), no early stopping.
std::optional<DgAcc> oracle(const std::vector<const DgRun*>& runs, int64_t t) {
  const DgCheckpoint* last = nullptr;
  for (const DgRun* r : runs) {
    if (r->test_envs.size() != 1) continue;
    for (const auto& c : r->checkpoints)
      if (!last || c.step >= last->step) last = &c;
  }
  if (!last || !has_env(*last, t)) return std::nullopt;
  return DgAcc{last->out_acc[t], last->in_acc[t], last->step};
}

// LeaveOneOutSelectionMethod._step_acc (:135-159) of the records of one
// step: exactly one single-test-domain record; for every other domain v the
// in-split accuracy of v in the run that held out (t, v); their mean.
std::optional<DgAcc> loo_step_acc(const std::vector<std::pair<const DgRun*, const DgCheckpoint*>>& records,
                                  int64_t t) {
  const DgCheckpoint* single = nullptr;
  size_t singles = 0;
  for (const auto& [r, c] : records) {
    if (r->test_envs.size() != 1) continue;
    single = c;
    ++singles;
  }
  if (singles != 1 || !has_env(*single, t)) return std::nullopt;
  const size_t n_envs = single->out_acc.size();
  std::vector<double> val_accs(n_envs, -1.0);
  for (const auto& [r, c] : records) {
    if (r->test_envs.size() != 2) continue;
    const int64_t v = r->test_envs[0] == t ? r->test_envs[1] : r->test_envs[0];
    if (has_env(*c, v) && v < static_cast<int64_t>(n_envs)) val_accs[v] = c->in_acc[v];
  }
  val_accs.erase(val_accs.begin() + t);
  for (double v : val_accs)
    if (v == -1.0) return std::nullopt;
  return DgAcc{np_sum(val_accs) / static_cast<double>(n_envs - 1), single->in_acc[t], single->step};
}

// run_acc (:161-169): records grouped by step (ascending), the first step of
// the highest val_acc.
std::optional<DgAcc> leave_one_out(const std::vector<const DgRun*>& runs, int64_t t) {
  std::map<int64_t, std::vector<std::pair<const DgRun*, const DgCheckpoint*>>> by_step;
  for (const DgRun* r : runs)
    for (const auto& c : r->checkpoints) by_step[c.step].emplace_back(r, &c);
  std::optional<DgAcc> best;
  for (const auto& [step, records] : by_step) {
    const auto a = loo_step_acc(records, t);
    if (a && (!best || a->val_acc > best->val_acc)) best = a;
  }
  return best;
}

// Q.sorted's key (lib/query.py:173-182): NaN sorts as -inf.
double sort_key(double v) { return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v; }

std::string envs_text(const std::vector<int64_t>& e) {
  std::string s = "[";
  for (size_t i = 0; i < e.size(); ++i) s += (i ? ", " : "") + std::to_string(e[i]);
  return s + "]";
}

// Which runs leave-one-out is missing for one draw of one group.
std::string loo_missing(const std::vector<const DgRun*>& runs, int64_t t) {
  std::set<std::vector<int64_t>> have;
  size_t n_envs = 0;
  for (const DgRun* r : runs) {
    have.insert(r->test_envs);
    for (const auto& c : r->checkpoints) n_envs = std::max(n_envs, c.out_acc.size());
  }
  std::string missing;
  if (!have.count({t})) missing = envs_text({t});
  for (int64_t v = 0; v < static_cast<int64_t>(n_envs); ++v)
    if (v != t && !have.count({std::min(t, v), std::max(t, v)}))
      missing += (missing.empty() ? "" : ", ") + envs_text({std::min(t, v), std::max(t, v)});
  if (!missing.empty()) return "no run with test domains " + missing;
  return "no iteration evaluated by the run with test domains " + envs_text({t}) + " and all its pairs";
}

}  // namespace

DgSelection parse_dg_selection(const std::string& name) {
  if (name == "training_domain") return DgSelection::kTrainingDomain;
  if (name == "leave_one_out") return DgSelection::kLeaveOneOut;
  if (name == "oracle") return DgSelection::kOracle;
  throw UserError("unknown selection method '" + name + "'", "--selection",
                  "use training_domain, leave_one_out or oracle");
}

std::string dg_selection_option(DgSelection s) {
  switch (s) {
    case DgSelection::kTrainingDomain: return "training_domain";
    case DgSelection::kLeaveOneOut: return "leave_one_out";
    case DgSelection::kOracle: return "oracle";
  }
  return "";
}

std::string dg_selection_title(DgSelection s) {
  switch (s) {
    case DgSelection::kTrainingDomain: return "training-domain validation set";             // :77
    case DgSelection::kLeaveOneOut: return "leave-one-domain-out cross-validation";         // :132
    case DgSelection::kOracle: return "test-domain validation set (oracle)";               // :58
  }
  return "";
}

std::optional<DgAcc> dg_run_acc(DgSelection s, const std::vector<const DgRun*>& runs, int64_t test_env) {
  switch (s) {
    case DgSelection::kTrainingDomain: return training_domain(runs, test_env);
    case DgSelection::kLeaveOneOut: return leave_one_out(runs, test_env);
    case DgSelection::kOracle: return oracle(runs, test_env);
  }
  return std::nullopt;
}

std::vector<DgSweepAcc> dg_sweep_accs(DgSelection s, const std::vector<DgRun>& runs, std::vector<std::string>* notes) {
  if (s == DgSelection::kLeaveOneOut) {
    bool pairs = false;
    for (const auto& r : runs) pairs = pairs || r.test_envs.size() == 2;
    if (!pairs)
      throw UserError("leave_one_out needs the runs with two test domains, and none of the " +
                          std::to_string(runs.size()) + " finished runs has them",
                      "data.test_domains of the runs",
                      "sweep with \"test_domains\": \"single_and_pairs\" (DomainBed's all_test_env_combinations), "
                      "or use --selection training_domain or oracle");
  }
  // (trial, dataset, algorithm, test domain) -> hparams_seed -> runs.
  using Key = std::tuple<int64_t, std::string, std::string, int64_t>;
  std::map<Key, std::map<int64_t, std::vector<const DgRun*>>> groups;
  for (const auto& r : runs)
    for (int64_t t : r.test_envs) groups[{r.trial_seed, r.dataset, r.algorithm, t}][r.hparams_seed].push_back(&r);
  std::vector<DgSweepAcc> out;
  for (const auto& [key, draws] : groups) {
    const auto& [trial, dataset, algorithm, t] = key;
    std::optional<DgSweepAcc> best;
    for (const auto& [h, draw_runs] : draws) {
      const auto acc = dg_run_acc(s, draw_runs, t);
      if (!acc && s == DgSelection::kLeaveOneOut)
        notes->push_back(dataset + " " + algorithm + " trial " + std::to_string(trial) + ", test domain " +
                         std::to_string(t) + ", hparams_seed " + std::to_string(h) + ": " + loo_missing(draw_runs, t));
      // hparams_accs sorts ascending and reverses (:32-40): of equal
      // val_acc the draw met last wins; draws are met in hparams_seed order.
      if (acc && (!best || sort_key(acc->val_acc) >= sort_key(best->acc.val_acc)))
        best = DgSweepAcc{trial, dataset, algorithm, t, h, *acc};
    }
    if (best) out.push_back(*best);
  }
  return out;
}

}  // namespace uda::cli
