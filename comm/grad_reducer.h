// Averages gradients across ranks in size-bounded buckets, launched from
// autograd hooks as each bucket's gradients become final during the last
// backward pass of a step, and awaited before the optimizer step (the design
// of PyTorch DDP's Reducer and Horovod's tensor fusion).
//
// Usage per training step:
//   reducer.arm();            // the next backward pass exchanges gradients
//   loss.backward();
//   reducer.finalize();       // waits; every .grad now holds the average
//   optimizer.step();
// Backward passes without arm() only accumulate locally (gradient
// accumulation, or the first passes of a multi-pass step). finalize() alone
// also works: it exchanges everything at once.
//
// A parameter that received no gradient on any rank keeps an undefined
// .grad (exactly as on one rank: optimizers skip it); one that received a
// gradient on some ranks only is averaged with zeros from the others.
#pragma once

#include "comm/communicator.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace torch::autograd {
struct Node;
}

namespace uda::comm {

struct ReducerOptions {
  size_t bucket_bytes = 25u << 20;       // PyTorch DDP default
  size_t first_bucket_bytes = 1u << 20;  // small first bucket starts the overlap early
  // Re-order buckets after the first step by the order gradients arrived
  // (rank 0's order, broadcast so every rank builds identical buckets).
  bool reorder_after_first_step = true;
};

class GradReducer {
 public:
  GradReducer(Communicator& comm, std::vector<at::Tensor> params, ReducerOptions options = {});
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // The next backward pass launches the exchange as buckets fill up.
  void arm();
  // Exchanges whatever is not yet exchanged, waits for every bucket and
  // writes the averaged gradients back. Disarms.
  void finalize();

  // Introspection for tests and logs.
  size_t num_buckets() const;
  // Parameter indices (into the constructor's list) of each bucket, in launch order.
  std::vector<std::vector<size_t>> bucket_layout() const;
  // Number of buckets launched from hooks (i.e. overlapped with backward) in the last step.
  size_t buckets_launched_early() const { return launched_early_; }

 private:
  struct Bucket;
  void build_buckets(const std::vector<size_t>& order);
  void release_buckets();
  void on_grad_ready(size_t param_index);
  void launch(Bucket& b);

  Communicator& comm_;
  std::vector<at::Tensor> params_;
  ReducerOptions options_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_of_;  // param -> (bucket, position)
  std::vector<size_t> arrival_;                     // arrival order in the current step
  std::vector<uintptr_t> hook_keys_;
  std::vector<std::shared_ptr<torch::autograd::Node>> grad_accumulators_;
  bool armed_ = false;
  bool reordered_ = false;
  size_t launched_early_ = 0;
};

}  // namespace uda::comm
