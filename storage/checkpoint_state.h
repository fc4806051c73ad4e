// What a checkpoint holds, as handed to and returned by the checkpoint store.
#pragma once

#include "storage/checkpoint_manifest.h"
#include "storage/tensor_data.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace uda::storage {

struct NamedTensor {
  std::string name;
  TensorData data;
};

// One rank's part of a save. The caller owns a host copy made at a step
// boundary and hands it over (moved), so training may continue at once.
struct CheckpointState {
  int64_t iteration = 0;
  std::string config_hash;
  // Free-form JSON (schedulers, best metric, resolved config, ...); the copy
  // of rank 0 is stored.
  nlohmann::json metadata = nlohmann::json::object();
  // Identical on every rank (same names, order, dtypes, shapes and values):
  // networks, optimizer moments, ... Each rank writes only a slice of them.
  std::vector<NamedTensor> replicated;
  // This rank's own entries (RNG states, sampler position, ...).
  std::vector<NamedTensor> rank_local;
};

// A verified checkpoint, read on any number of ranks.
struct LoadedCheckpoint {
  std::string path;  // the iter_<N> directory
  Manifest manifest;  // iteration, world_size (of the writer), config_hash, metadata
  std::vector<NamedTensor> replicated;  // whole tensors, in save order
  // Rank-local entries of every writing rank: old rank -> entries.
  std::map<int, std::vector<NamedTensor>> rank_local;

  int64_t iteration() const { return manifest.iteration; }
  // nullptr when absent.
  const TensorData* find(const std::string& name) const;
  const TensorData* find_rank_local(int old_rank, const std::string& name) const;
};

}  // namespace uda::storage
