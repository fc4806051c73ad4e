// The training domains' batches of one step, side by side, for the
// classification / domain-generalization algorithms (DomainBed's
// `minibatches`: one (x, y) per training domain, in domain order).
#pragma once

#include "algos/algorithm.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uda::worker {
class TrainContext;
}

namespace uda::algos {

struct DomainBatches {
  at::Tensor images;   // every domain's images, concatenated in domain order
  at::Tensor labels;   // int64 class ids
  at::Tensor domains;  // int64 [N]: position of each sample's domain among the step's domains
  at::Tensor slots;    // int64 [N]: global sample slots (DomainBatch::indices), on the CPU
  std::vector<int64_t> sizes;  // samples per domain
  // Keys of the rows for per-sample layer randomness: (stream, domain, slot),
  // so that slot k of one domain and slot k of another draw differently.
  std::vector<uint64_t> keys;
};

// batch.domains (DG) or, without them, batch.source as one domain. UserError
// naming data.source.path when a batch is unlabelled or holds no sample.
DomainBatches concat_domains(const Batch& batch, const worker::TrainContext& ctx, const std::string& stream);

// Keys of another per-sample stream for the same rows, (stream, domain d,
// slot) as concat_domains makes them, for rows given by their domain
// position and global slot (e.g. the gathered rows of the global batch,
// whose keys then do not depend on the rank that holds them).
std::vector<uint64_t> row_keys(const worker::TrainContext& ctx, const std::string& stream, const at::Tensor& domains,
                               const at::Tensor& slots);

}  // namespace uda::algos
