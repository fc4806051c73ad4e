// The plain samplers: uniform with replacement, epoch shuffling without
// replacement, and a sequential single pass for evaluation.
#pragma once

#include "data/pipeline/sampler.h"

namespace uda::data::pipeline {

// Each slot draws uniformly from `pool`, independently (with replacement),
// from the stream key (seed, step, slot). DAFormer draws target images this
// way when RCS is on (UDADataset.get_rare_class_sample).
class UniformSampler : public Sampler {
 public:
  UniformSampler(std::vector<int64_t> pool, uint64_t seed);
  SampleRef draw(const DrawRequest& r) override;
  std::string name() const override { return "uniform"; }

 private:
  std::vector<int64_t> pool_;
  uint64_t seed_;
};

// Epochs of `pool` in a fresh random order each: global position p falls in
// epoch p / n at offset p % n. Keyed by position, so every sample is seen
// once per epoch whatever the batch layout or the number of ranks.
class ShuffleSampler : public Sampler {
 public:
  ShuffleSampler(std::vector<int64_t> pool, uint64_t seed);
  SampleRef draw(const DrawRequest& r) override;
  std::string name() const override { return "shuffle"; }
  // The permutation of epoch `e` (Fisher-Yates from the key (seed, e)).
  std::vector<int64_t> epoch_order(int64_t e) const;

 private:
  std::vector<int64_t> pool_;
  uint64_t seed_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_;
};

// pool[position], one pass, no randomness (evaluation).
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(std::vector<int64_t> pool);
  SampleRef draw(const DrawRequest& r) override;
  int64_t length() const override { return static_cast<int64_t>(pool_.size()); }
  std::string name() const override { return "sequential"; }

 private:
  std::vector<int64_t> pool_;
};

}  // namespace uda::data::pipeline
