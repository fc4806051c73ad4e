// Reading and writing ClassStats: our own class_stats.json (docs/FORMATS.md)
// and DAFormer's sample_class_stats.json / samples_with_class.json
// (tools/convert_datasets/{gta,cityscapes,synthia}.py of github.com/lhoyer/DAFormer).
#pragma once

#include "data/class_stats.h"

#include <nlohmann/json.hpp>

#include <string>

namespace uda::data {

inline constexpr const char* kClassStatsFile = "class_stats.json";

nlohmann::json class_stats_to_json(const ClassStats& stats);
// UserError naming `where` when the object is malformed.
ClassStats class_stats_from_json(const nlohmann::json& j, const std::string& where);
void save_class_stats(const ClassStats& stats, const std::string& path);  // atomic write
ClassStats load_class_stats(const std::string& path);

// DAFormer's sample_class_stats.json: a list with one object per image,
// {"<train id>": pixels, ..., "file": name}, classes with 0 pixels left out.
nlohmann::json to_daformer_sample_class_stats(const ClassStats& stats);
// samples_with_class.json: {"<train id>": [[file, pixels], ...]} in image order.
nlohmann::json to_daformer_samples_with_class(const ClassStats& stats);
// Builds ClassStats from a sample_class_stats.json document. `class_names`
// fixes the number of classes (ids must be below it); one domain "default".
ClassStats from_daformer_sample_class_stats(const nlohmann::json& j, const std::vector<std::string>& class_names,
                                            const std::string& where);
// Writes both DAFormer files into `dir`.
void export_daformer_stats(const ClassStats& stats, const std::string& dir);

}  // namespace uda::data
