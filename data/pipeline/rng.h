// Counter-based random streams for the data pipeline.
//
// Every random choice of the loader (which sample, which crop, flip or not)
// comes from a stream keyed by integers such as (seed, stream, step, slot),
// never from a shared generator, so results do not depend on thread timing
// or on the number of ranks or loader threads.
//
// The distributions are implemented here instead of with <random>'s
// distributions, whose outputs are implementation-defined and may change
// between standard library versions (a resumed run must see the same numbers).
#pragma once

#include <cstdint>
#include <string_view>

namespace uda::data::pipeline {

// SplitMix64 finaliser: a bijective 64-bit mixer (Steele et al., 2014).
uint64_t mix64(uint64_t x);
// Folds integers into one well-mixed 64-bit key: key(a, b, c, ...).
uint64_t derive_key(uint64_t a, uint64_t b);
uint64_t derive_key(uint64_t a, uint64_t b, uint64_t c);
uint64_t derive_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
// A stable 64-bit hash of a name (FNV-1a), e.g. to salt a loader's stream.
uint64_t name_key(std::string_view name);

// xoshiro256** (Blackman & Vigna) seeded from one 64-bit key with SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t key);
  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire 2019).
  uint64_t below(uint64_t n);
  // True with probability p (uniform() < p, the numpy `rand() < p` rule).
  bool bernoulli(double p) { return uniform() < p; }

 private:
  uint64_t s_[4];
};

}  // namespace uda::data::pipeline
