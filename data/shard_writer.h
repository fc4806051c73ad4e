// Writes one shard file of a dataset (layout in docs/FORMATS.md).
#pragma once

#include "data/manifest.h"
#include "data/sample.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

// A converted sample plus what the shard records about it.
struct ShardSample {
  Sample sample;
  std::vector<int64_t> class_pixels;  // [num_classes], on the full-resolution label
  int source_height = 0;              // size of the source image before resizing
  int source_width = 0;
};

struct ShardSpec {
  Task task = Task::kSegmentation;
  Encoding encoding = Encoding::kRaw;
  size_t num_classes = 0;
  int64_t first_index = 0;  // dataset index of the shard's first sample
  int deflate_level = 1;
};

// Writes `<path>.tmp`, fsyncs it and renames it to `path` (then fsyncs the
// directory): a file named `path` is always complete.
void write_shard(const std::string& path, const std::vector<ShardSample>& samples, const ShardSpec& spec);

}  // namespace uda::data
