// The DomainBed protocol of a sweep file ("protocol": "domainbed", docs/DG.md):
// trials x datasets x algorithms x test domains x hyper-parameter draws, in
// the order of DomainBed's scripts/sweep.py make_args_list (:98-128), each
// job with DomainBed's seed and hyper-parameters mapped onto uda config keys.
#pragma once

#include "launcher/dg_hparams.h"
#include "launcher/sweep_point.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace uda::cli {

struct DgDataset {
  std::string name;    // DomainBed's dataset name: it seeds the jobs
  std::string config;  // the base config of its runs (resolved path)
  bool small_images = false;  // SMALL_IMAGES branches of the registry
  int num_domains = 0;
};

struct DgSweep {
  std::vector<DgDataset> datasets;      // in name order (a JSON object)
  std::vector<std::string> algorithms;  // uda names, in the sweep file's order
  // "single", "single_and_pairs", or explicit lists of domain indices.
  nlohmann::json test_domains = "single";
  int n_hparams = 20;  // hparams_seed 0 .. n_hparams - 1; 0 = the defaults
  int n_trials = 3;    // trial_seed 0 .. n_trials - 1
};

struct DgJob {
  const DgDataset* dataset = nullptr;
  const DgAlgorithm* algorithm = nullptr;
  std::vector<int64_t> test_envs;
  int64_t hparams_seed = 0;
  int64_t trial_seed = 0;
  uint32_t seed = 0;  // seed_hash(dataset, algorithm, test_envs, hparams_seed, trial_seed)
};

// The protocol keys of a sweep document (datasets, algorithms, test_domains,
// n_hparams, n_trials; `set` is checked for keys the protocol owns). `file`
// names errors and anchors relative config paths.
DgSweep parse_dg_sweep(const nlohmann::json& doc, const std::string& file);

// The test-domain sets of a dataset, in DomainBed's order: [i] for each
// domain ("single", sweep.py:104-106), or [i] then [i, j] for j > i
// ("single_and_pairs", all_test_env_combinations, sweep.py:87-96).
std::vector<std::vector<int64_t>> dg_test_env_sets(const DgSweep& sweep, const DgDataset& dataset);

// Every job, in make_args_list's order: trial -> dataset -> algorithm ->
// test domains -> hparams_seed.
std::vector<DgJob> dg_jobs(const DgSweep& sweep);

// The run of a job: algorithm.name, data.test_domains, data.split_seed
// (= trial_seed), train.hparams_seed, the hyper-parameters, then the sweep's
// `set` (it wins, as DomainBed's --hparams does, train.py:80-81), then
// train.seed. batch_size becomes data.batch_per_rank = batch_size / nproc
// rounded to the nearest integer (halves up, at least 1).
SweepPoint dg_point(const DgJob& job, const nlohmann::json& set, int nproc);

}  // namespace uda::cli
