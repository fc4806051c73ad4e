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

void add_global_batch_time(double seconds) {
  g_nanoseconds += static_cast<int64_t>(seconds * 1e9);
  ++g_calls;
}

GlobalBatchTimer::GlobalBatchTimer() : start_ns_(now_ns()) {}
GlobalBatchTimer::~GlobalBatchTimer() { add_global_batch_time(static_cast<double>(now_ns() - start_ns_) * 1e-9); }

}  // namespace uda::comm
