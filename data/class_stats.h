// Class statistics of a segmentation or classification dataset, computed once
// at conversion and stored next to the shards (docs/FORMATS.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

struct ClassStats {
  std::vector<std::string> class_names;
  std::vector<std::string> domain_names;  // one entry for single-domain sets
  // Segmentation: pixels of each class in each image, counted on the
  // full-resolution label (as DAFormer's converters do). Classification:
  // a one-hot row per sample. [num_images][num_classes]
  std::vector<std::vector<int64_t>> per_image;
  std::vector<int> image_domain;  // [num_images] index into domain_names
  // [num_images] the sample names (DAFormer's "file" key on export); may be
  // empty for statistics built in memory.
  std::vector<std::string> image_names;

  size_t num_classes() const { return class_names.size(); }
  size_t num_images() const { return per_image.size(); }
  // Sum over images, per class.
  std::vector<int64_t> class_pixels() const;
  // class_pixels / total; the per-class frequencies f_c of RCS.
  std::vector<double> class_freq() const;
  // Per-domain per-class totals [domain][class] (class-aware MMD, ADVENT prior).
  std::vector<std::vector<int64_t>> domain_class_pixels() const;
  // Per-domain class histogram normalised to sum 1 [domain][class]
  // (ADVENT's class-ratio prior); all zero for a domain without pixels.
  std::vector<std::vector<double>> domain_class_ratio() const;
  // Images holding more than `min_pixels` pixels of each class [class][...].
  std::vector<std::vector<int64_t>> images_with_class(int64_t min_pixels) const;
  // Throws std::invalid_argument when the vectors disagree in size.
  void check_consistent() const;
};

}  // namespace uda::data
