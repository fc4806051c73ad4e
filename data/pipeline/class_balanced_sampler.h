// Class-balanced batches across domains (class-aware MMD; Long et al.'s
// class-conditional alignment needs the same classes on both sides).
//
// Slot k of step t first draws a class from the key (class_seed, t, k) and
// then an image of that class from this sampler's own pool. Samplers of
// several domains built with the same class_seed therefore fill slot k with
// the same class in every domain, whatever the rank layout.
#pragma once

#include "data/class_stats.h"
#include "data/pipeline/sampler.h"

#include <vector>

namespace uda::data::pipeline {

class ClassBalancedSampler : public Sampler {
 public:
  // sample_class[i]: class of dataset sample i (-1 = unknown, never drawn);
  // pool: the indices this sampler may draw from (e.g. one domain);
  // classes: the classes to balance over (typically those present in every
  // domain; each must have at least one sample in the pool).
  ClassBalancedSampler(const std::vector<int64_t>& sample_class, const std::vector<int64_t>& pool,
                       std::vector<int64_t> classes, uint64_t class_seed, uint64_t seed);
  SampleRef draw(const DrawRequest& r) override;
  std::string name() const override { return "class_balanced"; }

 private:
  std::vector<int64_t> classes_;
  std::vector<std::vector<int64_t>> by_class_;  // per entry of classes_
  uint64_t class_seed_, seed_;
};

// The class of each sample from one-hot statistics rows (classification
// sets store a one-hot row per sample in ClassStats::per_image); -1 if empty.
std::vector<int64_t> sample_classes(const ClassStats& stats);
// Classes with at least one sample in every one of `pools`.
std::vector<int64_t> shared_classes(const std::vector<int64_t>& sample_class,
                                    const std::vector<std::vector<int64_t>>& pools);

}  // namespace uda::data::pipeline
