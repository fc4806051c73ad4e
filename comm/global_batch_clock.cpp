#include "comm/global_batch_clock.h"

#include <atomic>
#include <chrono>

namespace uda::comm {

namespace {
// Autograd may run a backward on another thread: atomics, not plain doubles.
std::atomic<int64_t> g_nanoseconds{0};
std::atomic<int64_t> g_calls{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

GlobalBatchClock global_batch_clock() {
  return {static_cast<double>(g_nanoseconds.load()) * 1e-9, g_calls.load()};
}

GlobalBatchTimer::GlobalBatchTimer() : start_ns_(now_ns()) {}

GlobalBatchTimer::~GlobalBatchTimer() {
  g_nanoseconds += now_ns() - start_ns_;
  ++g_calls;
}

}  // namespace uda::comm
