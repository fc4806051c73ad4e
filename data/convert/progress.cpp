#include "data/convert/progress.h"

#include <unistd.h>

#include <cstdio>

namespace uda::data {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(STDERR_FILENO) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (enabled_ && !finished_ && tty_) std::fputc('\n', stderr);
}

void Progress::add(int64_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  auto min_gap = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || now - last_draw_ < min_gap) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int64_t done = done_.load();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
  double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  const int width = 30;
  int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : '.';
  bar[width] = 0;
  auto eta_s = static_cast<long>(eta);
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %.1f img/s %s %ld:%02ld%s", tty_ ? "\r" : "", label_.c_str(), bar,
               static_cast<long long>(done), static_cast<long long>(total_), rate, final ? "took" : "ETA",
               (final ? static_cast<long>(secs) : eta_s) / 60, (final ? static_cast<long>(secs) : eta_s) % 60,
               (final || !tty_) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace uda::data
