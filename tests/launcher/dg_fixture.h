// Fabricated domain generalization run directories, as the training side
// writes them (docs/DG.md): config.json with the DG keys, eval.jsonl with
// every domain's in/out accuracy, final_eval.json, metrics.jsonl with
// step_time, sweep_overrides.json naming the dataset, DONE.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::test {

struct FakeEval {
  int64_t step = 0;
  std::vector<double> in, out;  // per domain
};

struct FakeDgRun {
  std::string dataset = "RotatedFMNIST";
  std::string algorithm = "erm";
  std::vector<int64_t> test_envs{0};
  int64_t trial_seed = 0;
  int64_t hparams_seed = 0;
  std::vector<FakeEval> evals;
  std::vector<std::string> domains;  // eval.jsonl "domains" (empty: not written)
  bool done = true;
  int64_t batch_per_rank = 8;
  double step_time = 0.5;     // every metrics.jsonl line
  double eval_seconds = 2.0;  // every evaluation
  int64_t max_iters = 100, eval_interval = 50;
};

void write_dg_run(const std::string& dir, const FakeDgRun& run);

}  // namespace uda::test
