// Asynchronous checkpoint saving: the caller hands over a host copy made at
// a step boundary, a background thread writes this rank's shard while
// training continues, and the collective commit (manifest, `latest`) runs on
// the calling thread at a later step boundary, so MPI is only ever used
// from the training thread (no MPI_THREAD_MULTIPLE needed).
//
// At most one save is in flight: submit() first finishes the previous one,
// and the time it waits is measured. Memory is bounded by one host copy in
// flight when the caller calls wait_idle() before making the next copy.
// All methods are collective (every rank calls them at the same steps).
#pragma once

#include "storage/checkpoint_store.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>

namespace uda::storage {

class AsyncCheckpointer {
 public:
  explicit AsyncCheckpointer(CheckpointStore& store);
  // Joins a write in flight without committing it (the directory stays
  // incomplete and is never loaded): call finish() before.
  ~AsyncCheckpointer();
  AsyncCheckpointer(const AsyncCheckpointer&) = delete;
  AsyncCheckpointer& operator=(const AsyncCheckpointer&) = delete;

  // Finishes and commits the save in flight, if any; the result of that
  // commit (its stall_seconds include the wait), nullopt when idle.
  std::optional<SaveResult> wait_idle();
  // Starts saving `state` in the background. The returned SaveResult's
  // stall_seconds/wait_seconds are this call's blocking time (including
  // finishing the previous save); its path is the directory being written.
  SaveResult submit(CheckpointState state, bool best = false);
  // At a step boundary: commits the save in flight once every rank has
  // written its shard; nullopt while still writing or idle. Costs one small
  // allreduce per call while a save is in flight, nothing otherwise.
  std::optional<SaveResult> poll();
  // wait_idle() under the name used at the end of training / on preemption.
  std::optional<SaveResult> finish() { return wait_idle(); }
  bool in_flight() const { return pending_ != nullptr; }

 private:
  struct Pending {
    int64_t iteration = 0;
    bool best = false;
    nlohmann::json metadata;
    std::future<Manifest> part;
    std::chrono::steady_clock::time_point started;
    double submit_stall = 0;
  };
  SaveResult commit_pending(double stall_so_far);

  CheckpointStore& store_;
  std::unique_ptr<Pending> pending_;
};

}  // namespace uda::storage
