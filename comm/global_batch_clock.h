// Time this process spends in the collectives of losses over the global
// batch (comm/differentiable.h all_gather_rows, comm/differentiable_reduce.h
// all_reduce_mean: forward and backward, waiting for the other ranks
// included), so that their cost can be reported next to the step time
// (the trainer's metrics.jsonl `global_batch_time`; docs/BENCHMARKS.md).
// The gradient reducer's exchange, overlapped with backward, is not counted.
#pragma once

#include <cstdint>

namespace uda::comm {

struct GlobalBatchClock {
  double seconds = 0;  // wall time inside the collectives
  int64_t calls = 0;   // collectives entered (the same on every rank)
};

// The process-wide totals since start.
GlobalBatchClock global_batch_clock();

// Times a scope as one collective (the collectives open one).
class GlobalBatchTimer {
 public:
  GlobalBatchTimer();
  ~GlobalBatchTimer();
  GlobalBatchTimer(const GlobalBatchTimer&) = delete;
  GlobalBatchTimer& operator=(const GlobalBatchTimer&) = delete;

 private:
  int64_t start_ns_;
};

}  // namespace uda::comm
