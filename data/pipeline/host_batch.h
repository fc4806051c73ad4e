// One rank's batch of one domain for one step, in host memory, laid out so
// that the worker wraps it with torch::from_blob without copying:
//   images  float32 [size][channels][height][width], normalised, padded with 0
//   labels  uint8   [size][label_height][label_width], 255 = ignore / padding
// The buffers come from LoaderOptions::allocator (e.g. pinned memory on
// CUDA ranks) and live as long as any shared_ptr to them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace uda::data::pipeline {

// Returns a buffer of at least `bytes` bytes, aligned for float; the
// shared_ptr's deleter releases it.
using Allocator = std::function<std::shared_ptr<void>(size_t bytes)>;
// 64-byte aligned heap memory.
std::shared_ptr<void> default_allocate(size_t bytes);

struct HostBatch {
  int64_t step = -1;   // global step this batch belongs to
  int size = 0;        // samples; fewer than the batch size only at the end of a finite pass
  int channels = 3;                       // image planes per sample (the set's, SampleSource::channels)
  int height = 0, width = 0;              // size of every image plane
  int label_height = 0, label_width = 0;  // 0 when the set has no label maps
  std::shared_ptr<float> images;
  std::shared_ptr<uint8_t> labels;
  // Per sample:
  std::vector<int64_t> indices;       // dataset indices
  std::vector<int> domains;           // Sample::domain
  std::vector<std::string> names;
  std::vector<int64_t> class_labels;  // classification sets; -1 otherwise
  std::vector<int> rare_class;        // class RCS drew the sample for, -1 otherwise
  std::vector<std::array<int, 2>> image_sizes;  // {h, w} before padding
  std::vector<std::array<int, 2>> label_sizes;  // {h, w} before padding

  size_t image_elements() const { return static_cast<size_t>(size) * channels * height * width; }
  size_t label_elements() const { return static_cast<size_t>(size) * label_height * label_width; }
  const float* image(int i) const { return images.get() + static_cast<size_t>(i) * channels * height * width; }
  const uint8_t* label(int i) const { return labels.get() + static_cast<size_t>(i) * label_height * label_width; }
};

}  // namespace uda::data::pipeline
