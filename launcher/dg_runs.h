// Domain generalization runs as DomainBed's collect_results sees them: one
// record per evaluation with every domain's in- and out-split accuracy
// (DomainBed's results.jsonl, scripts/train.py:222-251), and the job's
// identity (args.dataset, algorithm, test_envs, trial_seed, hparams_seed).
#pragma once

#include "launcher/run_record.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uda::cli {

struct DgCheckpoint {
  int64_t step = 0;              // eval.jsonl "iter"
  std::vector<double> in_acc;    // env{i}_in_acc, i = 0 .. domains - 1
  std::vector<double> out_acc;   // env{i}_out_acc
};

struct DgRun {
  std::string dir;
  std::string dataset;    // DomainBed's name (sweep_overrides.json), else data.source.path
  std::string algorithm;  // algorithm.name
  std::vector<int64_t> test_envs;  // data.test_domains
  int64_t trial_seed = 0;          // data.split_seed
  int64_t hparams_seed = 0;        // train.hparams_seed
  std::vector<std::string> domains;  // labels of the domains (eval.jsonl "domains"), may be empty
  // In iteration order; an iteration evaluated again (a resumed run) keeps
  // its last record.
  std::vector<DgCheckpoint> checkpoints;
};

// A run of the DG protocol: its config has a non-empty data.test_domains.
bool is_dg_run(const RunRecord& run);

// The finished DG runs among `runs`, sorted by (dataset, algorithm, trial,
// hparams_seed, test domains, dir); unfinished runs and evaluations without
// every domain's accuracies are left out with a line in `notes`.
std::vector<DgRun> dg_runs(const std::vector<RunRecord>& runs, std::vector<std::string>* notes);

}  // namespace uda::cli
