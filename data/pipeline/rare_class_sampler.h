// Rare Class Sampling (DAFormer, Hoyer et al., CVPR 2022, Sec. 3.3 and
// mmseg/datasets/uda_dataset.py of github.com/lhoyer/DAFormer):
//   1. a class c is drawn with p_c = softmax((1 - f_c) / T) over the classes
//      that occur in the source set (f_c: its share of all labelled pixels);
//   2. an image is drawn uniformly among those with more than `min_pixels`
//      pixels of c;
//   3. (in the loader, see crop_retry.h) the augmentation pipeline is re-run
//      up to 10 times until the crop holds more than
//      min_pixels * min_crop_ratio pixels of c.
#pragma once

#include "data/class_stats.h"
#include "data/pipeline/sampler.h"

#include <cstdint>
#include <vector>

namespace uda::data::pipeline {

// The probabilities in the order and precision of the official
// get_rcs_class_probs: classes sorted by ascending total pixel count (a stable
// sort, ties keep the order of first appearance when walking the images and,
// within an image, the classes in ascending id), freq and softmax in float32.
struct RareClassTable {
  std::vector<int> classes;                  // class ids, ascending count
  std::vector<float> probs;                  // p for each entry of classes
  std::vector<double> cdf;                   // normalised cumulative probs
  std::vector<std::vector<int64_t>> images;  // per entry: images with > min_pixels of it

  // per_image: [num_images][num_classes] pixel counts (ClassStats::per_image).
  // A class that occurs but has no image above min_pixels is a UserError,
  // as the official code asserts it away.
  static RareClassTable build(const std::vector<std::vector<int64_t>>& per_image, double temperature,
                              int64_t min_pixels);
  // numpy's Generator-free choice rule: the first entry whose cdf exceeds u.
  size_t pick(double u) const;
};

class RareClassSampler : public Sampler {
 public:
  RareClassSampler(RareClassTable table, uint64_t seed);
  SampleRef draw(const DrawRequest& r) override;
  std::string name() const override { return "rcs"; }
  const RareClassTable& table() const { return table_; }

 private:
  RareClassTable table_;
  uint64_t seed_;
};

}  // namespace uda::data::pipeline
