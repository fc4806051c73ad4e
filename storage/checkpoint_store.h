// The checkpoint store of a run: collective, atomic, verified saves and
// loads of sharded checkpoints over an MPI communicator (or a single
// process). Layout and guarantees: docs/FORMATS.md "Checkpoints".
//
//   CheckpointStore store({run_dir, keep_last, MPI_COMM_WORLD});
//   store.save(state);                       // every rank, same iteration
//   auto ckpt = store.load_latest();         // every rank; nullopt: fresh start
//
// Every rank calls save/load at the same point (they are collective). A
// checkpoint written by N ranks loads on any number M of ranks: replicated
// tensors are reassembled from their slices and the rank-local entries of
// all N writers are returned by old rank.
#pragma once

#include "storage/checkpoint_files.h"
#include "storage/checkpoint_state.h"

#include <mpi.h>

#include <optional>
#include <string>

namespace uda::storage {

struct CheckpointStoreOptions {
  std::string run_dir;
  int keep_last = 3;  // train.keep_checkpoints; <= 0 keeps all
  // Ranks taking part; MPI_COMM_NULL (or MPI not initialised): this process
  // alone. The store duplicates it so checkpoint traffic never mixes with
  // training messages.
  MPI_Comm comm = MPI_COMM_NULL;
};

struct SaveResult {
  std::string path;
  int64_t iteration = 0;
  bool skipped = false;        // a complete checkpoint of this iteration existed
  uint64_t bytes = 0;          // all shards together
  double write_seconds = 0;    // shard writing of this rank
  double stall_seconds = 0;    // time the calling (training) thread was blocked
  double wait_seconds = 0;     // part of the stall spent waiting for the previous save
};

class CheckpointStore {
 public:
  explicit CheckpointStore(CheckpointStoreOptions options);  // collective when a communicator is given
  ~CheckpointStore();
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  const std::string& run_dir() const { return options_.run_dir; }

  // Synchronous save (collective). UserError on every rank when any rank
  // failed (disk full, ...): the partial directory is removed and the
  // previous checkpoint stays the latest.
  SaveResult save(const CheckpointState& state, bool best = false);

  // The newest checkpoint that verifies on every rank (collective); newer
  // unusable ones are reported as warnings. nullopt when the run has none;
  // UserError when it has some but none verifies.
  std::optional<LoadedCheckpoint> load_latest();
  // One explicit checkpoint directory (collective); UserError if it does not verify.
  LoadedCheckpoint load(const std::string& dir);

  // The steps of save(), for AsyncCheckpointer.
  // Collective: prepares the directory; false when this iteration is already saved.
  bool begin(int64_t iteration);
  // This rank's shard (no MPI; may run on a background thread).
  Manifest write_local(const CheckpointState& state) const;
  // Collective: gathers every rank's part (or its error) to rank 0, which
  // writes the manifest, `latest`, `best` and rotates. UserError on failure.
  SaveResult commit(int64_t iteration, const Manifest* part, const std::string& error,
                    const nlohmann::json& metadata, bool best);
  // Collective AND of `value` over the ranks (true without MPI).
  bool all(bool value) const;

 private:
  bool mpi() const { return comm_ != MPI_COMM_NULL; }
  std::string broadcast(const std::string& s) const;  // rank 0's string
  std::vector<std::string> gather(const std::string& s) const;  // to rank 0

  CheckpointStoreOptions options_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, world_ = 1;
};

}  // namespace uda::storage
