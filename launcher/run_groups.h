// How the runs on a comparison page are told apart: by the keys their sweep
// varied. A group (one colour) is a setting of the varied keys other than
// the seeds; the runs of a group (seeds, DomainBed's trials) differ in line
// style.
#pragma once

#include "launcher/run_record.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace uda::cli {

struct RunLabel {
  nlohmann::json group = nlohmann::json::object();  // group key -> this run's value
  nlohmann::json seed = nlohmann::json::object();   // seed key -> value
  size_t group_index = 0;                           // in order of first appearance
  size_t member = 0;                                // position within the group
  std::string text;                                 // "key=value ..." of both, or the run's directory name
};

struct RunLabels {
  std::vector<std::string> group_keys, seed_keys;
  std::vector<RunLabel> runs;  // as the runs given
};

// Varied keys: the config keys whose values differ between the runs, limited
// to the sweep's hyper-parameters (sweep_overrides.json "hparams") when every
// run has them. Seeds: train.seed, and DomainBed's trial (data.split_seed).
// Domain generalization runs are grouped by algorithm, dataset, test domains
// and hyper-parameter draw (train.hparams_seed), whose drawn values vary with
// the trial too.
RunLabels label_runs(const std::vector<RunRecord>& runs);

}  // namespace uda::cli
