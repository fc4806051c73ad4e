// manifest.json of a converted dataset directory (docs/FORMATS.md). It is
// written last, atomically: a directory without it is an unfinished
// conversion.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kManifestFile = "manifest.json";

enum class Task { kSegmentation, kClassification };
// How images (and segmentation labels) are stored inside a shard.
enum class Encoding { kRaw, kDeflate, kPng };

std::string task_name(Task t);
std::string encoding_name(Encoding e);
// UserError naming `where` for an unknown name.
Task parse_task(const std::string& name, const std::string& where);
Encoding parse_encoding(const std::string& name, const std::string& where);

struct ShardInfo {
  std::string file;         // relative to the dataset directory, e.g. shard-00000.h5
  int64_t num_samples = 0;
  int64_t bytes = 0;        // file size
  std::string xxh64;        // xxHash64 (seed 0) of the whole file, 16 hex digits
};

struct Manifest {
  int format_version = kFormatVersion;
  Task task = Task::kSegmentation;
  std::vector<std::string> class_names;
  std::vector<std::string> domain_names;
  std::string split;
  // Channels of every stored image: 1 (grey), 2 (DomainBed's ColoredMNIST)
  // or 3 (RGB). Manifests written before the field existed read as 3 with
  // channels_recorded false: their images are not checked against it.
  int channels = 3;
  bool channels_recorded = true;
  Encoding encoding = Encoding::kRaw;
  int64_t num_samples = 0;
  std::vector<ShardInfo> shards;
  // converter, source path, options, tool version.
  nlohmann::json provenance = nlohmann::json::object();
};

nlohmann::json manifest_to_json(const Manifest& m);
Manifest manifest_from_json(const nlohmann::json& j, const std::string& where);
// <dir>/manifest.json; UserError when missing (unfinished conversion) or malformed.
Manifest load_manifest(const std::string& dir);
void save_manifest(const Manifest& m, const std::string& dir);  // atomic
std::string shard_file_name(size_t shard_index);  // shard-00000.h5

}  // namespace uda::data
