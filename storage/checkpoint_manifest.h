// manifest.json of a checkpoint directory: what every shard holds and how
// to verify it. Written last (atomically) by rank 0; a directory without it
// is an incomplete checkpoint and is never loaded. Format: docs/FORMATS.md.
#pragma once

#include "storage/tensor_data.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace uda::storage {

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr const char* kManifestName = "manifest.json";

// A contiguous element range [begin, end) of a flattened replicated tensor,
// stored as dataset `dataset` of shard `shard`.
struct SliceRecord {
  int shard = 0;
  std::string dataset;
  int64_t begin = 0, end = 0;
  uint64_t checksum = 0;  // xxHash64 of the slice's bytes
};

struct TensorRecord {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  uint64_t checksum = 0;  // xxHash64 of the whole tensor's bytes
  std::vector<SliceRecord> slices;  // in element order, covering the tensor
};

// One rank-local entry (RNG state, sampler position, ...) of writing rank `rank`.
struct RankLocalRecord {
  int rank = 0;
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  int shard = 0;
  std::string dataset;
  uint64_t checksum = 0;
};

struct ShardRecord {
  int rank = 0;
  std::string file;    // relative to the checkpoint directory
  uint64_t bytes = 0;  // file size after the write
};

struct Manifest {
  int format_version = kCheckpointFormatVersion;
  int64_t iteration = 0;
  int world_size = 1;
  std::string config_hash;
  std::string created_utc;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<ShardRecord> shards;
  std::vector<TensorRecord> tensors;       // replicated tensors, in save order
  std::vector<RankLocalRecord> rank_local;  // by rank, then save order
};

nlohmann::json to_json(const Manifest& m);
// UserError (naming `where`) on a malformed or unsupported manifest.
Manifest manifest_from_json(const nlohmann::json& j, const std::string& where);

std::string checksum_hex(uint64_t v);
uint64_t checksum_from_hex(const std::string& s, const std::string& where);

}  // namespace uda::storage
