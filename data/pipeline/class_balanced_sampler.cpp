#include "data/pipeline/class_balanced_sampler.h"

#include "data/pipeline/rng.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

namespace uda::data::pipeline {

ClassBalancedSampler::ClassBalancedSampler(const std::vector<int64_t>& sample_class,
                                           const std::vector<int64_t>& pool, std::vector<int64_t> classes,
                                           uint64_t class_seed, uint64_t seed)
    : classes_(std::move(classes)), class_seed_(class_seed), seed_(seed) {
  if (classes_.empty()) throw std::invalid_argument("ClassBalancedSampler: no class to balance over");
  by_class_.resize(classes_.size());
  for (int64_t i : pool) {
    auto it = std::find(classes_.begin(), classes_.end(), sample_class.at(static_cast<size_t>(i)));
    if (it != classes_.end()) by_class_[static_cast<size_t>(it - classes_.begin())].push_back(i);
  }
  for (size_t k = 0; k < classes_.size(); ++k)
    if (by_class_[k].empty())
      throw std::invalid_argument("ClassBalancedSampler: class " + std::to_string(classes_[k]) +
                                  " has no sample in the pool");
}

SampleRef ClassBalancedSampler::draw(const DrawRequest& r) {
  constexpr uint64_t kClassSalt = 0x636c617373ULL;  // "class"
  constexpr uint64_t kImageSalt = 0x696d616765ULL;  // "image"
  Rng crng(derive_key(class_seed_, kClassSalt, static_cast<uint64_t>(r.step), static_cast<uint64_t>(r.slot)));
  const size_t k = crng.below(classes_.size());
  Rng irng(derive_key(seed_, kImageSalt, static_cast<uint64_t>(r.step), static_cast<uint64_t>(r.slot)));
  return {by_class_[k][irng.below(by_class_[k].size())], -1};
}

std::vector<int64_t> sample_classes(const ClassStats& stats) {
  std::vector<int64_t> out;
  out.reserve(stats.per_image.size());
  for (const auto& row : stats.per_image) {
    auto it = std::max_element(row.begin(), row.end());
    out.push_back(it == row.end() || *it <= 0 ? -1 : static_cast<int64_t>(it - row.begin()));
  }
  return out;
}

std::vector<int64_t> shared_classes(const std::vector<int64_t>& sample_class,
                                    const std::vector<std::vector<int64_t>>& pools) {
  std::set<int64_t> shared;
  bool first = true;
  for (const auto& pool : pools) {
    std::set<int64_t> here;
    for (int64_t i : pool) {
      const int64_t c = sample_class.at(static_cast<size_t>(i));
      if (c >= 0) here.insert(c);
    }
    if (first) {
      shared = here;
      first = false;
    } else {
      std::set<int64_t> both;
      std::set_intersection(shared.begin(), shared.end(), here.begin(), here.end(),
                            std::inserter(both, both.begin()));
      shared.swap(both);
    }
  }
  return {shared.begin(), shared.end()};
}

}  // namespace uda::data::pipeline
