// The single-process building blocks of the checkpoint store (no MPI):
// naming, slicing replicated tensors across ranks, writing one rank's shard,
// committing a manifest (atomic, then `latest`/`best`, then rotation),
// listing and loading with verification and fallback.
// storage/checkpoint_store.h runs them collectively over MPI; tests call
// them directly to simulate any number of ranks.
#pragma once

#include "storage/checkpoint_manifest.h"
#include "storage/checkpoint_state.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace uda::storage {

// <run>/checkpoints
std::string checkpoints_root(const std::string& run_dir);
// "iter_00040000"
std::string checkpoint_dir_name(int64_t iteration);
// <run>/checkpoints/iter_<N>
std::string checkpoint_dir(const std::string& run_dir, int64_t iteration);
// Whether `dir` has a manifest (complete as far as the writer is concerned).
bool has_manifest(const std::string& dir);

// Element range [begin, end) of the flattened replicated tensor `index`
// written by `rank`: the tensors' bytes laid end to end are cut into
// `world` nearly equal parts at element boundaries.
struct SliceRange {
  int64_t begin = 0, end = 0;
};
std::vector<std::vector<SliceRange>> plan_slices(const std::vector<NamedTensor>& replicated, int world);

// Prepares <run>/checkpoints/iter_<N> for writing. Returns false (and
// touches nothing) when a complete checkpoint of that iteration exists;
// removes a leftover incomplete one.
bool prepare_checkpoint_dir(const std::string& run_dir, int64_t iteration);

// Writes shard-<rank>.h5 of `dir` with this rank's slices and rank-local
// entries; returns the rank's part of the manifest. Thread-safe, no MPI.
Manifest write_checkpoint_shard(const std::string& dir, const CheckpointState& state, int rank, int world);

// Merges the parts of all ranks (checks they agree) into the manifest.
Manifest merge_manifests(const std::vector<Manifest>& parts, const nlohmann::json& metadata);

struct CommitOptions {
  int keep_last = 3;  // complete checkpoints kept besides `best`; <= 0 keeps all
  bool best = false;  // also point <run>/checkpoints/best at this one
};
// Writes manifest.json atomically, then `latest` (and `best`), then deletes
// checkpoints beyond keep_last (never the best one) and incomplete leftovers.
void commit_checkpoint(const std::string& run_dir, const Manifest& manifest, const CommitOptions& options);

// Reads and verifies every checksum of one checkpoint directory;
// UserError with the reason when it is incomplete or corrupt.
LoadedCheckpoint load_checkpoint(const std::string& dir);

// Checkpoint directories of a run (complete or not), newest first.
std::vector<std::string> list_checkpoint_dirs(const std::string& run_dir);

// The newest checkpoint that verifies; each skipped newer one is reported
// (path and reason) as a spdlog warning. nullopt when the run has none at
// all; UserError when there are some but none verifies.
std::optional<LoadedCheckpoint> load_latest_checkpoint(const std::string& run_dir);

// The name stored in <run>/checkpoints/latest or best ("" when absent).
std::string read_pointer(const std::string& run_dir, const std::string& pointer);

}  // namespace uda::storage
