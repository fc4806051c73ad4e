// The conversion driver shared by every format: turns a list of items into
// shards in parallel, resumably, then writes class_stats.json and, last,
// manifest.json.
#pragma once

#include "data/manifest.h"
#include "data/shard_writer.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace uda::data {

// The options of `uda convert` (docs/CLI.md); format-specific ones are
// ignored by the other formats.
struct ConvertOptions {
  std::string format;
  std::string src;
  std::string out;
  std::string split;        // format default when empty
  std::string resize;       // "WxH", "none", or empty for the format default
  size_t shard_size = 1000;
  int jobs = 1;
  uint64_t seed = 0;
  std::string encoding = "raw";
  bool progress = true;
  bool lenient_labels = false;  // unknown label ids -> 255 instead of an error
  // toyscenes
  std::string size;             // "WxH" of generated images, default 128x96
  int64_t count = -1;           // images per domain (toyscenes) / limit (idx)
  double thing_rarity = 1.0;    // multiplier on the probability of thing classes
  // idx
  std::string domains = "none";  // none | rotated | colored | mnistm
  std::string photo;             // colour photograph for mnistm blending
  // imagefolder
  std::string layout = "auto";   // auto | domains | office31 | visda2017
  std::string exclude;           // file of image paths (relative to src) to leave out
};

// What one format contributes: the dataset's identity and a function that
// produces item i (thread-safe, deterministic in i).
struct ConversionPlan {
  Task task = Task::kSegmentation;
  std::vector<std::string> class_names;
  std::vector<std::string> domain_names;
  std::string split;
  int channels = 3;  // of every produced image (manifest "channels")
  size_t num_items = 0;
  std::function<ShardSample(size_t)> produce;
  // Recorded in manifest.json; a resumed conversion must have the same.
  nlohmann::json provenance = nlohmann::json::object();
};

struct RunSettings {
  size_t shard_size = 1000;
  int jobs = 1;
  Encoding encoding = Encoding::kRaw;
  bool progress = true;
  std::string label;  // progress bar label
};

// Writes the dataset into `out_dir`. Shards already present (complete by
// construction) are kept, so an interrupted run resumes; a directory holding
// a different conversion is a UserError. Returns the number of shards written.
size_t run_conversion(const ConversionPlan& plan, const std::string& out_dir, const RunSettings& settings);

// Parses "WxH" (UserError naming `option` otherwise).
std::pair<int, int> parse_size(const std::string& text, const std::string& option);

}  // namespace uda::data
