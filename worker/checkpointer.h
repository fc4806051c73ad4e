// The whole training state <-> the sharded checkpoint store (storage/):
// every tracked network (parameters and buffers), every optimizer's state
// (momenta, Adam moments and step counts), extra tracked tensors, the data
// streams' positions, best-metric bookkeeping and the config hash.
//
// RNG: per-sample and per-step randomness is derived from (seed, iteration,
// slot) and the process generator is re-seeded every iteration from (seed,
// rank, iteration) by the trainer, so no RNG state needs saving and a run
// resumed on any number of ranks continues exactly.
#pragma once

#include "worker/trainer.h"

#include <memory>
#include <string>

namespace uda::worker {

struct CheckpointerOptions {
  std::string run_dir;
  int keep_last = 3;
  bool async = true;
  std::string config_hash;
  // Restore from this checkpoint directory instead of the run's latest.
  std::string resume_from;
};

std::unique_ptr<Checkpointer> make_checkpointer(const CheckpointerOptions& options);

}  // namespace uda::worker
