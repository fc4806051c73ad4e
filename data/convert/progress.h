// A progress bar on stderr: count, rate and ETA. Redrawn in place on a
// terminal; a plain line every few seconds otherwise (logs, CI).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace uda::data {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();
  void add(int64_t n = 1);  // thread-safe
  void finish();

 private:
  void draw(bool final);
  std::string label_;
  int64_t total_;
  bool enabled_, tty_, finished_ = false;
  std::atomic<int64_t> done_{0};
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace uda::data
