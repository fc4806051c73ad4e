// Tensor-by-tensor comparison of two checkpoints' replicated state
// (networks, optimizer moments, buffers, queues): the measure of the
// world-size promise and of exact resume (docs/SCALING.md), and `uda diff`.
#pragma once

#include "storage/checkpoint_state.h"

#include <string>
#include <vector>

namespace uda::storage {

struct TensorDifference {
  std::string name;
  // max|a - b| / max|b| over the tensor (float types, computed in double);
  // for integer and bool tensors 0 when equal, 1 when any element differs.
  // +inf when the tensor is missing on one side or shapes/dtypes differ.
  double relative = 0;
  double absolute = 0;  // max|a - b|
  double squared_diff = 0, squared_ref = 0;  // sum (a - b)^2 and sum b^2 (float tensors)
  std::string note;     // why a tensor could not be compared
};

// ||a - b|| / ||b|| over every float tensor together (L2 over all elements):
// one number for a whole state that tiny, nearly untrained tensors (whose
// own relative difference is noisy under Adam) cannot dominate.
double overall_relative_l2(const std::vector<TensorDifference>& diffs);

// Every replicated tensor of either checkpoint, largest difference first.
// Rank-local entries (RNG states, sampler positions) are left out: they
// legitimately differ between world sizes.
std::vector<TensorDifference> compare_checkpoints(const LoadedCheckpoint& a, const LoadedCheckpoint& b);

// A checkpoint directory, or a run directory (its newest complete checkpoint).
LoadedCheckpoint load_checkpoint_or_run(const std::string& path);

}  // namespace uda::storage
