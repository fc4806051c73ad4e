#include "storage/checkpoint_store.h"

#include "core/error.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

namespace uda::storage {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
bool mpi_running() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}
}  // namespace

CheckpointStore::CheckpointStore(CheckpointStoreOptions options) : options_(std::move(options)) {
  if (options_.comm != MPI_COMM_NULL && mpi_running()) {
    MPI_Comm_dup(options_.comm, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &world_);
  }
}

CheckpointStore::~CheckpointStore() {
  if (comm_ != MPI_COMM_NULL && mpi_running()) MPI_Comm_free(&comm_);
}

std::string CheckpointStore::broadcast(const std::string& s) const {
  if (!mpi()) return s;
  unsigned long long n = s.size();
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm_);
  std::string out = rank_ == 0 ? s : std::string(n, '\0');
  if (n) MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, 0, comm_);
  return out;
}

std::vector<std::string> CheckpointStore::gather(const std::string& s) const {
  if (!mpi()) return {s};
  int n = static_cast<int>(s.size());
  std::vector<int> sizes(static_cast<size_t>(world_)), displs(static_cast<size_t>(world_));
  MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, comm_);
  std::string all;
  if (rank_ == 0) {
    int total = 0;
    for (int r = 0; r < world_; ++r) {
      displs[static_cast<size_t>(r)] = total;
      total += sizes[static_cast<size_t>(r)];
    }
    all.resize(static_cast<size_t>(total));
  }
  MPI_Gatherv(s.data(), n, MPI_CHAR, all.data(), sizes.data(), displs.data(), MPI_CHAR, 0, comm_);
  std::vector<std::string> out;
  if (rank_ == 0)
    for (int r = 0; r < world_; ++r)
      out.push_back(all.substr(static_cast<size_t>(displs[static_cast<size_t>(r)]), static_cast<size_t>(sizes[static_cast<size_t>(r)])));
  return out;
}

bool CheckpointStore::all(bool value) const {
  if (!mpi()) return value;
  int v = value ? 1 : 0, out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MIN, comm_);
  return out == 1;
}

bool CheckpointStore::begin(int64_t iteration) {
  std::string status;  // "new", "skip" or an error message
  if (rank_ == 0) {
    try {
      status = prepare_checkpoint_dir(options_.run_dir, iteration) ? "new" : "skip";
    } catch (const UserError& e) {
      status = e.line();
    }
  }
  status = broadcast(status);
  if (status == "skip") {
    spdlog::info("checkpoint: iteration {} is already saved in {}", iteration, checkpoint_dir(options_.run_dir, iteration));
    return false;
  }
  if (status != "new") throw UserError("checkpoint save failed on rank 0: " + status, options_.run_dir, "");
  return true;
}

Manifest CheckpointStore::write_local(const CheckpointState& state) const {
  return write_checkpoint_shard(checkpoint_dir(options_.run_dir, state.iteration), state, rank_, world_);
}

SaveResult CheckpointStore::commit(int64_t iteration, const Manifest* part, const std::string& error,
                                   const nlohmann::json& metadata, bool best) {
  nlohmann::json mine = part ? nlohmann::json{{"ok", true}, {"part", to_json(*part)}}
                             : nlohmann::json{{"ok", false}, {"error", error}};
  auto parts = gather(mine.dump());
  std::string dir = checkpoint_dir(options_.run_dir, iteration);
  std::string status;  // "" = committed
  uint64_t bytes = 0;
  if (rank_ == 0) {
    try {
      std::vector<Manifest> manifests;
      for (size_t r = 0; r < parts.size(); ++r) {
        auto j = nlohmann::json::parse(parts[r]);
        if (!j.at("ok").get<bool>())
          throw UserError("rank " + std::to_string(r) + ": " + j.at("error").get<std::string>(), dir, "");
        manifests.push_back(manifest_from_json(j.at("part"), dir));
      }
      Manifest m = merge_manifests(manifests, metadata);
      for (const auto& s : m.shards) bytes += s.bytes;
      commit_checkpoint(options_.run_dir, m, {options_.keep_last, best});
    } catch (const std::exception& e) {
      status = e.what();
      // Never leave a half-written directory behind a failed save: it could
      // only waste space (without a manifest it is never loaded anyway).
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    status += "|" + std::to_string(bytes);
  }
  status = broadcast(status);
  size_t bar = status.rfind('|');
  bytes = std::stoull(status.substr(bar + 1));
  status.resize(bar);
  if (!status.empty())
    throw UserError("checkpoint save of iteration " + std::to_string(iteration) + " failed: " + status, dir,
                    "the previous checkpoint is intact; free disk space or fix the error, training can resume from it");
  SaveResult r;
  r.path = dir;
  r.iteration = iteration;
  r.bytes = bytes;
  return r;
}

SaveResult CheckpointStore::save(const CheckpointState& state, bool best) {
  auto t0 = std::chrono::steady_clock::now();
  if (!begin(state.iteration)) {
    SaveResult r;
    r.path = checkpoint_dir(options_.run_dir, state.iteration);
    r.iteration = state.iteration;
    r.skipped = true;
    return r;
  }
  std::optional<Manifest> part;
  std::string error;
  auto tw = std::chrono::steady_clock::now();
  try {
    part = write_local(state);
  } catch (const std::exception& e) {
    error = e.what();
  }
  double write_s = seconds_since(tw);
  SaveResult r = commit(state.iteration, part ? &*part : nullptr, error, state.metadata, best);
  r.write_seconds = write_s;
  r.stall_seconds = seconds_since(t0);
  spdlog::info("checkpoint: saved {} ({:.1f} MB) in {:.3f} s (synchronous: training stalled {:.3f} s)", r.path,
               r.bytes / 1e6, r.stall_seconds, r.stall_seconds);
  return r;
}

LoadedCheckpoint CheckpointStore::load(const std::string& dir) {
  std::optional<LoadedCheckpoint> out;
  std::string reason;
  try {
    out = load_checkpoint(dir);
  } catch (const UserError& e) {
    reason = e.line();
  }
  if (!all(out.has_value()))
    throw UserError("checkpoint does not verify" + (reason.empty() ? std::string(" on another rank") : ": " + reason),
                    dir, "pick another checkpoint");
  return std::move(*out);
}

std::optional<LoadedCheckpoint> CheckpointStore::load_latest() {
  // Rank 0's listing, so that every rank tries the same candidates in order.
  nlohmann::json listing = list_checkpoint_dirs(options_.run_dir);
  auto dirs = nlohmann::json::parse(broadcast(listing.dump())).get<std::vector<std::string>>();
  if (dirs.empty()) return std::nullopt;
  std::string reasons;
  for (const auto& d : dirs) {
    std::optional<LoadedCheckpoint> ckpt;
    std::string reason;
    try {
      ckpt = load_checkpoint(d);
    } catch (const UserError& e) {
      reason = e.line();
    }
    if (all(ckpt.has_value())) {
      spdlog::info("checkpoint: resuming from {} (iteration {}, written by {} rank(s))", d, ckpt->iteration(),
                   ckpt->manifest.world_size);
      return ckpt;
    }
    if (!reason.empty()) spdlog::warn("{}; falling back to the previous checkpoint", reason);
    reasons += "\n  " + (reason.empty() ? d + ": does not verify on another rank" : reason);
  }
  throw UserError("no usable checkpoint", checkpoints_root(options_.run_dir),
                  "every checkpoint is incomplete or corrupt:" + reasons);
}

}  // namespace uda::storage
