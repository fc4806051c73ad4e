// Checkpoint store benchmark: write and read throughput of a sharded
// checkpoint against the disk's sequential bandwidth measured in the same
// run, and the training stall per save, synchronous vs asynchronous.
//
//   ckpt_bench [--dir D] [--mb 512] [--saves 4] [--step-ms 50]
//
// Page cache: before each read measurement the files are fsynced and
// dropped with posix_fadvise(DONTNEED); the output says whether the drop
// worked (a read far above the disk write bandwidth means it did not).
#include "core/error.h"
#include "storage/async_checkpointer.h"
#include "storage/checkpoint_files.h"
#include "storage/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace uda::storage;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool drop_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  ::fdatasync(fd);
  bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

void drop_tree(const std::string& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) drop_cache(e.path().string());
}

// Sequential write (8 MiB blocks, fsync) and cold read of one file: what dd conv=fsync measures.
std::pair<double, double> disk_bandwidth(const std::string& dir, size_t bytes) {
  std::string path = dir + "/seq.bin";
  std::vector<char> buf(8 << 20, 1);
  auto t0 = Clock::now();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (size_t done = 0; done < bytes; done += buf.size())
    if (::write(fd, buf.data(), buf.size()) < 0) throw std::runtime_error("write failed");
  ::fsync(fd);
  ::close(fd);
  double w = bytes / since(t0);
  drop_cache(path);
  t0 = Clock::now();
  fd = ::open(path.c_str(), O_RDONLY);
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
  ::close(fd);
  double r = bytes / since(t0);
  fs::remove(path);
  return {w, r};
}

CheckpointState make_state(int64_t iteration, size_t total_bytes) {
  CheckpointState s;
  s.iteration = iteration;
  s.config_hash = "bench";
  // 64 tensors of mixed sizes, like a network plus optimizer moments.
  size_t n = 64, each = total_bytes / n / 4;
  for (size_t i = 0; i < n; ++i) {
    int64_t numel = static_cast<int64_t>(each / 2 + (i % 8) * each / 8);
    TensorData t = make_tensor(DType::Float32, {numel});
    for (size_t b = 0; b < t.bytes.size(); b += 4096) t.bytes[b] = static_cast<uint8_t>(b + i);
    s.replicated.push_back({"param." + std::to_string(i), std::move(t)});
  }
  s.rank_local.push_back({"rng", make_tensor(DType::UInt8, {5056})});
  return s;
}

size_t state_bytes(const CheckpointState& s) {
  size_t b = 0;
  for (const auto& t : s.replicated) b += t.data.bytes.size();
  return b;
}

// A training step: CPU work for about `ms` milliseconds.
void train_step(double ms) {
  auto t0 = Clock::now();
  volatile double x = 0;
  while (since(t0) * 1000 < ms) x = x + 1.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/uda-ckpt-bench";
  size_t mb = 512;
  int saves = 4;
  double step_ms = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--mb") mb = std::stoul(argv[i + 1]);
    else if (a == "--saves") saves = std::stoi(argv[i + 1]);
    else if (a == "--step-ms") step_ms = std::stod(argv[i + 1]);
  }
  try {
    fs::remove_all(dir);
    fs::create_directories(dir);
    size_t bytes = mb << 20;
    auto [disk_w, disk_r] = disk_bandwidth(dir, bytes);
    std::printf("disk sequential write (8 MiB blocks + fsync): %8.1f MB/s\n", disk_w / 1e6);
    std::printf("disk sequential read (after fadvise DONTNEED): %8.1f MB/s\n", disk_r / 1e6);

    CheckpointState state = make_state(1, bytes);
    size_t payload = state_bytes(state);
    std::string run = dir + "/run";
    CheckpointStore store({run, 2, MPI_COMM_NULL});
    auto t0 = Clock::now();
    SaveResult r = store.save(state);
    double wt = since(t0);
    std::printf("checkpoint write (1 rank, %zu MB, fsynced, atomic): %8.1f MB/s = %.0f%% of disk write\n",
                payload >> 20, payload / wt / 1e6, 100.0 * payload / wt / disk_w);
    drop_tree(r.path);
    t0 = Clock::now();
    LoadedCheckpoint c = load_checkpoint(r.path);
    double rt = since(t0);
    std::printf("checkpoint read + verify (cold cache):            %8.1f MB/s = %.0f%% of disk read\n",
                payload / rt / 1e6, 100.0 * payload / rt / disk_r);

    // Stall per save: `saves` saves, one every 4 steps; the host copy made
    // by the trainer (a memcpy of the state here) is reported separately.
    auto run_loop = [&](bool async_mode) {
      std::string rdir = dir + (async_mode ? "/async" : "/sync");
      CheckpointStore s2({rdir, 2, MPI_COMM_NULL});
      AsyncCheckpointer ac(s2);
      double stall = 0, copy = 0, wait = 0;
      auto tl = Clock::now();
      int steps = saves * 4;
      for (int step = 1; step <= steps; ++step) {
        train_step(step_ms);
        if (async_mode) {
          auto tp = Clock::now();
          ac.poll();
          stall += since(tp);
        }
        if (step % 4 == 0) {
          auto tc = Clock::now();
          CheckpointState copy_state = make_state(step, 0);
          copy_state.replicated = state.replicated;  // the device->host copy stand-in
          copy += since(tc);
          if (async_mode) {
            SaveResult sr = ac.submit(std::move(copy_state));
            stall += sr.stall_seconds;
            wait += sr.wait_seconds;
          } else {
            stall += s2.save(copy_state).stall_seconds;
          }
        }
      }
      if (async_mode) {
        auto tf = Clock::now();
        ac.finish();
        stall += since(tf);
      }
      std::printf("%-5s: %d saves, %d steps of %.0f ms: loop %.2f s, stall per save %.3f s (of which waiting for the "
                  "previous save %.3f s), host copy per save %.3f s\n",
                  async_mode ? "async" : "sync", saves, steps, step_ms, since(tl), stall / saves, wait / saves,
                  copy / saves);
    };
    run_loop(false);
    run_loop(true);
    fs::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ckpt_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
