// numpy's legacy random generator (np.random.RandomState) and DomainBed's
// seed_hash, reproduced exactly, so that uda draws what DomainBed draws:
// the in/out split of every domain (misc.split_dataset) and the random
// hyper-parameters and job seeds of a sweep (hparams_registry, sweep.py).
//
// Sources: DomainBed (facebookresearch/DomainBed b93c22a) lib/misc.py
// seed_hash (:132-137) and split_dataset (:167-178); numpy 1.24
// numpy/random/mtrand.pyx (RandomState: legacy MT19937 seeding by
// init_genrand, random_sample, choice, shuffle) and
// numpy/random/src/distributions (random_interval: masked rejection).
// Checked against Python in tests/core/numpy_random_test.cpp and against
// DomainBed's own values in tests/launcher/dg_golden_test.cpp.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace uda::numpy_random {

// An argument of seed_hash as Python prints it: an int, a name (printed
// 'name'; identifiers only, so that no escaping is involved) or a list of ints.
using PyArg = std::variant<int64_t, std::string, std::vector<int64_t>>;
bool is_identifier(const std::string& s);
// repr() of the tuple: "(1, 0)", "('RotatedMNIST', 'ERM', [0], 0, 0)", "(3,)".
std::string py_tuple_repr(const std::vector<PyArg>& args);
// misc.seed_hash(*args) = int(md5(repr(args).encode()).hexdigest(), 16) % 2**31.
uint32_t seed_hash(const std::vector<PyArg>& args);

class RandomState {
 public:
  // RandomState(seed) with an int seed < 2^32 is MT19937's init_genrand,
  // which is what std::mt19937(seed) does.
  explicit RandomState(uint32_t seed) : mt_(seed) {}
  uint32_t next_uint32() { return static_cast<uint32_t>(mt_()); }
  // random_sample(): 53 bits from two draws, ((a >> 5) * 2^26 + (b >> 6)) / 2^53.
  double random_sample();
  double uniform(double low, double high) { return low + (high - low) * random_sample(); }
  // An integer in [0, max] by masked rejection (random_interval); max 0 draws nothing.
  uint64_t interval(uint64_t max);
  // The index that choice() of a list of n items picks.
  size_t choice(size_t n);
  // shuffle of a list: Fisher-Yates from the end.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[interval(i - 1)]);
  }

 private:
  std::mt19937 mt_;
};

// DomainBed's misc.split_dataset(range(n), n_first, seed): the n_first
// shuffled keys, then the rest.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_keys(int64_t n, int64_t n_first, uint32_t seed);

}  // namespace uda::numpy_random
