// Shared steps of the segmentation converters: map label ids to train ids,
// count classes on the full-resolution label, resize image and label.
#pragma once

#include "data/convert/conversion.h"
#include "data/image_io.h"
#include "data/label_maps.h"

#include <optional>
#include <string>
#include <vector>

namespace uda::data {

// The target size from --resize: the format default when empty, none for "none".
std::optional<std::pair<int, int>> resize_target(const std::string& option, std::optional<std::pair<int, int>> fallback);

struct SegmentationSource {
  std::string name;
  std::string image_path;
  std::string label_path;
  int label_channel = 0;  // which channel of the label PNG holds the class id
};

// Reads, maps, counts and resizes one image/label pair. Label ids above
// map.max_source_id (other than 255) are a UserError unless `lenient`.
ShardSample make_segmentation_sample(const SegmentationSource& src, const LabelMap& map, bool lenient,
                                     std::optional<std::pair<int, int>> resize_to, size_t num_classes);

// Files in `dir` whose names end with `suffix`, sorted; recursive when asked.
std::vector<std::string> list_files(const std::string& dir, const std::string& suffix, bool recursive);

}  // namespace uda::data
