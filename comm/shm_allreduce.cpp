#include "comm/shm_allreduce.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define UDA_CPU_RELAX() _mm_pause()
#else
#define UDA_CPU_RELAX() ((void)0)
#endif

namespace uda::comm {

namespace {

constexpr size_t kCacheLine = 64;
constexpr size_t kHeaderBytes = 4 * kCacheLine;
// About 10-50 us of polling before sleeping: long enough to catch a peer
// that is about to arrive, short enough not to starve a computing thread.
constexpr int kSpinsBeforeSleep = 1000;

long futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word must be a plain 32-bit word");
  // Not FUTEX_PRIVATE: the word lives in memory shared between processes.
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
}

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// The sources advanced by `by` elements.
template <typename T>
std::vector<const T*> offset_sources(const std::vector<const T*>& src, size_t by) {
  std::vector<const T*> out(src);
  for (auto& p : out) p += by;
  return out;
}

// Collective over `node`: a window of `bytes` per rank that all ranks map,
// locked for plain loads and stores (unified memory model; ordering comes
// from the barrier's atomics). MPI_WIN_NULL on every rank if any rank
// failed to get one.
MPI_Win allocate_window(MPI_Comm node, size_t bytes) {
  char* base = nullptr;
  MPI_Win window = MPI_WIN_NULL;
  const int rc = MPI_Win_allocate_shared(static_cast<MPI_Aint>(bytes), 1, MPI_INFO_NULL, node, &base, &window);
  int ok = rc == MPI_SUCCESS ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, node);
  if (!ok) {
    if (rc == MPI_SUCCESS) MPI_Win_free(&window);
    return MPI_WIN_NULL;
  }
  MPI_Win_lock_all(MPI_MODE_NOCHECK, window);
  return window;
}

// Every rank's segment of a shared window, as mapped in this process.
std::vector<char*> segments_of(MPI_Win window, int ranks) {
  std::vector<char*> out;
  for (int r = 0; r < ranks; ++r) {
    MPI_Aint bytes = 0;
    int disp = 0;
    void* ptr = nullptr;
    MPI_Win_shared_query(window, r, &bytes, &disp, &ptr);
    out.push_back(static_cast<char*>(ptr));
  }
  return out;
}

// Elements [begin, end) of `len` that `rank` sums in sum_shared: whole cache
// lines, so that no two ranks write the same line.
template <typename T>
std::pair<size_t, size_t> share_of(int rank, int ranks, size_t len) {
  const size_t per_line = kCacheLine / sizeof(T);
  const size_t lines = (len + per_line - 1) / per_line;
  const size_t share = (lines + ranks - 1) / ranks * per_line;
  const size_t begin = std::min(len, share * static_cast<size_t>(rank));
  return {begin, std::min(len, begin + share)};
}

// out[i] = src[0][i] + src[1][i] + ... in rank order, so that every rank
// computes bit-identical sums. Through a small local accumulator, which the
// compiler knows aliases nothing (and vectorises).
template <typename T>
void sum_into(T* out, const std::vector<const T*>& src, size_t len) {
  constexpr size_t kBlock = 1024;
  T acc[kBlock];
  for (size_t i = 0; i < len; i += kBlock) {
    const size_t m = std::min(kBlock, len - i);
    const T* s0 = src[0] + i;
    for (size_t j = 0; j < m; ++j) acc[j] = s0[j];
    for (size_t k = 1; k < src.size(); ++k) {
      const T* sk = src[k] + i;
      for (size_t j = 0; j < m; ++j) acc[j] += sk[j];
    }
    std::memcpy(out + i, acc, m * sizeof(T));
  }
}

}  // namespace

// A sense-counting barrier in shared memory: the last rank to arrive bumps
// the generation and wakes the sleepers.
struct SharedMemoryAllReduce::Barrier {
  alignas(kCacheLine) std::atomic<uint32_t> arrived{0};
  alignas(kCacheLine) std::atomic<uint32_t> generation{0};
  alignas(kCacheLine) std::atomic<uint32_t> sleepers{0};
};

std::unique_ptr<SharedMemoryAllReduce> SharedMemoryAllReduce::create(MPI_Comm comm, size_t chunk_bytes) {
  int rank = 0, world = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &world);
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int node_size = 0;
  MPI_Comm_size(node, &node_size);
  int all_on_one_node = node_size == world ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &all_on_one_node, 1, MPI_INT, MPI_MIN, comm);
  if (!all_on_one_node || world < 2) {
    MPI_Comm_free(&node);
    return nullptr;
  }
  MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN);
  chunk_bytes = round_up(std::max<size_t>(chunk_bytes, kCacheLine), kCacheLine);
  MPI_Win window = allocate_window(node, kHeaderBytes + 2 * chunk_bytes);
  if (window == MPI_WIN_NULL) {
    MPI_Comm_free(&node);
    return nullptr;
  }
  std::unique_ptr<SharedMemoryAllReduce> s(new SharedMemoryAllReduce());
  s->node_ = node;
  s->window_ = window;
  s->rank_ = rank;
  s->size_ = world;
  s->chunk_bytes_ = chunk_bytes;
  s->segments_ = segments_of(window, world);
  static_assert(sizeof(Barrier) <= kHeaderBytes, "the barrier must fit the segment header");
  if (rank == 0) new (s->segments_[0]) Barrier();
  MPI_Barrier(node);
  s->barrier_ = reinterpret_cast<Barrier*>(s->segments_[0]);
  return s;
}

SharedMemoryAllReduce::~SharedMemoryAllReduce() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (auto& b : shared_) {
    MPI_Win_unlock_all(b.window);
    MPI_Win_free(&b.window);
  }
  MPI_Win_unlock_all(window_);
  MPI_Win_free(&window_);
  MPI_Comm_free(&node_);
}

char* SharedMemoryAllReduce::slot(int rank, int buffer) const {
  return segments_[static_cast<size_t>(rank)] + kHeaderBytes + static_cast<size_t>(buffer) * chunk_bytes_;
}

void SharedMemoryAllReduce::barrier() {
  Barrier& b = *barrier_;
  const uint32_t generation = b.generation.load();
  if (b.arrived.fetch_add(1) + 1 == static_cast<uint32_t>(size_)) {
    b.arrived.store(0);
    b.generation.fetch_add(1);
    if (b.sleepers.load() > 0) futex(&b.generation, FUTEX_WAKE, INT_MAX);
    return;
  }
  for (int i = 0; i < kSpinsBeforeSleep; ++i) {
    if (b.generation.load() != generation) return;
    UDA_CPU_RELAX();
  }
  // Sequentially consistent: either the last arriver sees us counted as a
  // sleeper, or we see its new generation (and FUTEX_WAIT returns at once
  // if the word changed in between).
  b.sleepers.fetch_add(1);
  while (b.generation.load() == generation) futex(&b.generation, FUTEX_WAIT, generation);
  b.sleepers.fetch_sub(1);
}

template <typename T>
void SharedMemoryAllReduce::sum_impl(T* data, size_t count) {
  const size_t chunk = chunk_bytes_ / sizeof(T);
  std::vector<const T*> src(static_cast<size_t>(size_));
  for (size_t offset = 0; offset < count; offset += chunk) {
    const size_t len = std::min(chunk, count - offset);
    // Double buffering, one barrier per chunk: chunk i+2 reuses the buffer
    // of chunk i only after the barrier of chunk i+1, which every rank
    // reaches after it finished reading chunk i. The parity carries over to
    // the next call for the same reason.
    const int buffer = next_buffer_;
    next_buffer_ ^= 1;
    std::memcpy(slot(rank_, buffer), data + offset, len * sizeof(T));
    barrier();
    for (int r = 0; r < size_; ++r) src[static_cast<size_t>(r)] = reinterpret_cast<const T*>(slot(r, buffer));
    sum_into(data + offset, src, len);
  }
}

void* SharedMemoryAllReduce::allocate_shared(size_t bytes) {
  // Whole cache lines, so that the last share never straddles into padding
  // another allocation uses.
  const size_t size = round_up(std::max<size_t>(bytes, 1), kCacheLine);
  MPI_Win window = allocate_window(node_, size);
  if (window == MPI_WIN_NULL) return nullptr;
  SharedBuffer b;
  b.window = window;
  b.segments = segments_of(window, size_);
  b.bytes = size;
  std::memset(b.segments[static_cast<size_t>(rank_)], 0, b.bytes);
  MPI_Barrier(node_);
  shared_.push_back(std::move(b));
  return shared_.back().segments[static_cast<size_t>(rank_)];
}

void SharedMemoryAllReduce::free_shared(void* buffer) {
  for (auto it = shared_.begin(); it != shared_.end(); ++it) {
    if (it->segments[static_cast<size_t>(rank_)] != buffer) continue;
    MPI_Win_unlock_all(it->window);
    MPI_Win_free(&it->window);
    shared_.erase(it);
    return;
  }
}

const SharedMemoryAllReduce::SharedBuffer* SharedMemoryAllReduce::buffer_of(const void* data, size_t bytes) const {
  const char* p = static_cast<const char*>(data);
  for (const auto& b : shared_) {
    const char* mine = b.segments[static_cast<size_t>(rank_)];
    if (p >= mine && p + bytes <= mine + b.bytes) return &b;
  }
  return nullptr;
}

bool SharedMemoryAllReduce::is_shared(const void* data, size_t bytes) const {
  return buffer_of(data, bytes) != nullptr;
}

template <typename T>
void SharedMemoryAllReduce::sum_shared_impl(T* data, size_t count) {
  const SharedBuffer* b = buffer_of(data, count * sizeof(T));
  if (!b) throw std::logic_error("sum_shared: the range is not inside a buffer from allocate_shared");
  const size_t offset = static_cast<size_t>(reinterpret_cast<char*>(data) - b->segments[static_cast<size_t>(rank_)]);
  std::vector<T*> at(static_cast<size_t>(size_));
  std::vector<const T*> src(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) {
    at[static_cast<size_t>(r)] = reinterpret_cast<T*>(b->segments[static_cast<size_t>(r)] + offset);
    src[static_cast<size_t>(r)] = at[static_cast<size_t>(r)];
  }
  barrier();  // every rank's values are in place
  auto [begin, end] = share_of<T>(rank_, size_, count);
  // Sum this rank's share into its own buffer first (sum_into reads all
  // sources before it writes each block), then copy it to the others: no
  // other rank reads or writes these elements until the second barrier.
  sum_into(at[static_cast<size_t>(rank_)] + begin, offset_sources(src, begin), end - begin);
  for (int r = 0; r < size_; ++r)
    if (r != rank_)
      std::memcpy(at[static_cast<size_t>(r)] + begin, at[static_cast<size_t>(rank_)] + begin, (end - begin) * sizeof(T));
  barrier();  // every share is everywhere
}

void SharedMemoryAllReduce::sum_shared(float* data, size_t count) { sum_shared_impl(data, count); }
void SharedMemoryAllReduce::sum_shared(double* data, size_t count) { sum_shared_impl(data, count); }

void SharedMemoryAllReduce::sum(float* data, size_t count) { sum_impl(data, count); }
void SharedMemoryAllReduce::sum(double* data, size_t count) { sum_impl(data, count); }

}  // namespace uda::comm
