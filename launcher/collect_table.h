// `uda collect`: per-run metric under a model-selection rule, grouping of
// runs that differ only by train.seed, mean ± sample std over each group,
// and the choice of hyper-parameters per task (algorithm and datasets) by
// the best group mean, as DomainBed's collect_results does.
#pragma once

#include "launcher/run_record.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace uda::cli {

// The selection rules: last (the final evaluation), oracle (the best
// evaluation of the test-domain metric over the run), train_val (the
// evaluation at which the training-domain validation metric was best).
// Returns the metric, or nullopt with `why` set when the run has no value.
std::optional<double> select_value(const RunRecord& run, const std::string& select, const std::string& metric,
                                   std::string* why);

struct Group {
  nlohmann::json task = nlohmann::json::object();     // algorithm.name and data paths that vary
  nlohmann::json hparams = nlohmann::json::object();  // other varying keys (not train.seed)
  std::vector<std::string> runs;
  std::vector<double> values;
  double mean = 0;
  std::optional<double> std;  // sample std (n-1); none when n == 1
  bool selected = false;      // best mean of its task
};

struct CollectResult {
  std::string select, metric;
  std::vector<std::string> task_keys, hparam_keys;
  std::vector<Group> groups;
  std::vector<std::string> notes;  // runs left out and why
};

CollectResult collect(const std::vector<RunRecord>& runs, const std::string& select, const std::string& metric);

std::string format_markdown(const CollectResult& r);
std::string format_csv(const CollectResult& r);
nlohmann::json to_json(const CollectResult& r);

}  // namespace uda::cli
