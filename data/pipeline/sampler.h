// Distributed, deterministic, resumable samplers.
//
// A sampler answers "which sample goes into global batch slot `slot` of
// global step `step`?" as a pure function of its seed and that request, so
// the global sample sequence depends neither on thread timing nor on which
// rank asks, and a run resumes exactly from a saved SamplerState.
//
// Ranks share the global batch by interleaving (as torch's
// DistributedSampler does with indices[rank::world]): with world size W and
// per-rank batch b, the global batch has B = W*b slots and the j-th sample
// of rank r is global slot k = j*W + r. The union over ranks of step t is
// therefore exactly what one rank with batch W*b draws at step t.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace uda::data::pipeline {

// Where a sample stream stands: the next global step to produce, and the
// number of global samples consumed before it (position advances by the
// global batch B per step; keeping it separately lets a run resume on a
// different number of ranks without repeating or skipping epoch samples).
struct SamplerState {
  int64_t step = 0;
  int64_t position = 0;

  nlohmann::json to_json() const;
  static SamplerState from_json(const nlohmann::json& j);
  bool operator==(const SamplerState& o) const { return step == o.step && position == o.position; }
};

// One global batch slot to fill.
struct DrawRequest {
  int64_t step = 0;      // global step
  int64_t slot = 0;      // global slot in [0, B)
  int64_t position = 0;  // global sample position: position(step) + slot
};

// The sampler's answer.
struct SampleRef {
  int64_t index = -1;    // dataset index
  int rare_class = -1;   // Rare Class Sampling: the class this sample was drawn for
};

// Global slot of the j-th sample of `rank` (interleaved layout, see above).
inline int64_t global_slot(int rank, int world, int64_t j) { return j * world + rank; }

class Sampler {
 public:
  virtual ~Sampler() = default;
  // Deterministic in (seed, request). Called from one thread at a time
  // (the loader's scheduler); implementations may cache.
  virtual SampleRef draw(const DrawRequest& request) = 0;
  // Number of global samples of a finite sampler (one pass for evaluation),
  // -1 for an endless one.
  virtual int64_t length() const { return -1; }
  virtual std::string name() const = 0;
};

// Sampling pools: every index 0..n-1, or those of one domain of a
// multi-domain set (domain generalization: one batch per source domain).
std::vector<int64_t> all_indices(int64_t n);
std::vector<int64_t> indices_of_domain(const std::vector<int>& sample_domain, int domain);

}  // namespace uda::data::pipeline
