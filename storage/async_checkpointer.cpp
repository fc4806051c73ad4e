#include "storage/async_checkpointer.h"

#include <spdlog/spdlog.h>

namespace uda::storage {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

AsyncCheckpointer::AsyncCheckpointer(CheckpointStore& store) : store_(store) {}

AsyncCheckpointer::~AsyncCheckpointer() {
  if (pending_ && pending_->part.valid()) {
    pending_->part.wait();
    spdlog::warn("checkpoint: iteration {} was written but never committed (finish() not called); it will be ignored",
                 pending_->iteration);
  }
}

SaveResult AsyncCheckpointer::commit_pending(double stall_so_far) {
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Pending> p = std::move(pending_);
  std::optional<Manifest> part;
  std::string error;
  try {
    part = p->part.get();
  } catch (const std::exception& e) {
    error = e.what();
  }
  double write_s = seconds_since(p->started);
  SaveResult r = store_.commit(p->iteration, part ? &*part : nullptr, error, p->metadata, p->best);
  r.write_seconds = write_s;
  r.stall_seconds = stall_so_far + seconds_since(t0);
  spdlog::info("checkpoint: saved {} ({:.1f} MB) asynchronously in {:.3f} s; training stalled {:.3f} s at submit, "
               "{:.3f} s at commit",
               r.path, r.bytes / 1e6, write_s, p->submit_stall, r.stall_seconds);
  return r;
}

std::optional<SaveResult> AsyncCheckpointer::wait_idle() {
  if (!pending_) return std::nullopt;
  auto t0 = std::chrono::steady_clock::now();
  pending_->part.wait();
  double waited = seconds_since(t0);
  SaveResult r = commit_pending(waited);
  r.wait_seconds = waited;
  return r;
}

SaveResult AsyncCheckpointer::submit(CheckpointState state, bool best) {
  auto t0 = std::chrono::steady_clock::now();
  double waited = 0;
  if (pending_) {
    auto prev = wait_idle();
    waited = prev ? prev->stall_seconds : 0;
    if (waited > 0.001) spdlog::info("checkpoint: waited {:.3f} s for the previous save before submitting", waited);
  }
  SaveResult r;
  r.iteration = state.iteration;
  r.path = checkpoint_dir(store_.run_dir(), state.iteration);
  if (!store_.begin(state.iteration)) {
    r.skipped = true;
    r.stall_seconds = seconds_since(t0);
    r.wait_seconds = waited;
    return r;
  }
  auto p = std::make_unique<Pending>();
  p->iteration = state.iteration;
  p->best = best;
  p->metadata = state.metadata;
  p->started = std::chrono::steady_clock::now();
  // The thread owns the host copy and frees it as soon as the shard is written.
  auto owned = std::make_shared<CheckpointState>(std::move(state));
  const CheckpointStore* store = &store_;
  p->part = std::async(std::launch::async, [store, owned]() mutable {
    Manifest m = store->write_local(*owned);
    owned.reset();
    return m;
  });
  r.stall_seconds = seconds_since(t0);
  r.wait_seconds = waited;
  p->submit_stall = r.stall_seconds;
  pending_ = std::move(p);
  return r;
}

std::optional<SaveResult> AsyncCheckpointer::poll() {
  if (!pending_) return std::nullopt;
  bool done = pending_->part.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  if (!store_.all(done)) return std::nullopt;
  return commit_pending(0.0);
}

}  // namespace uda::storage
