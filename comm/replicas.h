// Keeping model replicas identical across ranks.
#pragma once

#include "comm/communicator.h"

#include <string>
#include <utility>
#include <vector>

namespace uda::comm {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Copies rank 0's values of every tensor (parameters and buffers) to all ranks.
void broadcast_from_rank0(Communicator& comm, const NamedTensors& tensors);
// Debug check: every rank holds bit-identical tensors. Returns "" or the
// name of the first tensor that differs, with the ranks' checksums.
std::string find_replica_mismatch(Communicator& comm, const NamedTensors& tensors);

}  // namespace uda::comm
