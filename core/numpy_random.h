// numpy's legacy random generator (np.random.RandomState) and DomainBed's
// seed_hash, reproduced exactly, so that uda draws what DomainBed draws:
// the in/out split of every domain (misc.split_dataset) and the random
// hyper-parameters of a sweep (hparams_registry.random_hparams).
//
// Sources: DomainBed (facebookresearch/DomainBed b93c22a) lib/misc.py
// seed_hash (:132-137) and split_dataset (:167-178); numpy 1.24
// numpy/random/mtrand.pyx (RandomState: legacy MT19937 seeding by
// init_genrand, random_sample, shuffle) and numpy/random/src/distributions
// (random_interval: masked rejection). Checked against Python in
// tests/core/numpy_random_test.cpp.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace uda::numpy_random {

// Python repr pieces for building seed_hash arguments:
//   seed_hash(py_tuple({py_int(1), py_int(0)}))  ==  misc.seed_hash(1, 0)
std::string py_int(int64_t v);
std::string py_str(const std::string& s);  // 'text' (single quotes, as Python)
std::string py_list(const std::vector<std::string>& items);
std::string py_tuple(const std::vector<std::string>& items);
// int(md5(repr(args).encode()).hexdigest(), 16) % 2**31.
uint32_t seed_hash(const std::string& python_repr);

class RandomState {
 public:
  explicit RandomState(uint32_t seed) : mt_(seed) {}
  uint32_t next_uint32() { return static_cast<uint32_t>(mt_()); }
  // random_sample(): 53-bit double in [0, 1) from two draws.
  double random_sample();
  double uniform(double low, double high) { return low + (high - low) * random_sample(); }
  // An integer in [0, max] by masked rejection (random_interval).
  uint64_t interval(uint64_t max);
  // choice(k) over k items: the index drawn.
  size_t choice(size_t k) { return static_cast<size_t>(interval(k - 1)); }
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
