// numpy's legacy numpy.random.RandomState, the parts DomainBed's
// hyper-parameter registry draws with (hparams_registry.py:23-26): uniform()
// and choice() of a list. Bit-exact with numpy (verified against numpy 1.24;
// the generator and these formulas are frozen for the legacy API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

namespace uda::cli {

class NumpyRandomState {
 public:
  // RandomState(seed) with an int seed < 2^32 is MT19937's init_genrand,
  // which is what std::mt19937(seed) does.
  explicit NumpyRandomState(uint32_t seed) : mt_(seed) {}

  // random_sample(): 53 bits from two 32-bit outputs,
  // ((a >> 5) * 2^26 + (b >> 6)) / 2^53.
  double random_sample();
  // uniform(low, high) = low + (high - low) * random_sample().
  double uniform(double low, double high);
  // The index choice() of a list of n picks: randint(0, n) by masked
  // rejection, one 32-bit output per try (n < 2^32).
  size_t choice_index(size_t n);

 private:
  std::mt19937 mt_;
};

}  // namespace uda::cli
