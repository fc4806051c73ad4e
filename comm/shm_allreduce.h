// Sum all-reduce through shared memory, for ranks that all live on one node.
//
// Open MPI moves a large all-reduce between processes of one node through
// its shared-memory transport in small fragments, copying every byte twice
// per hop and degrading sharply beyond a few MiB (docs/BENCHMARKS.md). Here
// each rank copies a chunk of its buffer into a window that all ranks map,
// waits for the others, and sums every rank's copy of the chunk into its own
// buffer, in rank order (so all ranks hold bit-identical results). Per rank
// that is one memcpy of the buffer plus one pass reading n chunks that stay
// in cache, and one barrier per chunk (chunks are double-buffered). Waiting
// ranks spin briefly, then sleep on a futex, so a rank that is still
// computing keeps its core. Reading n copies suits the few ranks of one
// node; a reduce-scatter would read less for many ranks.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace uda::comm {

class SharedMemoryAllReduce {
 public:
  // Collective over `comm`. Returns nullptr (on every rank) when the ranks
  // are not all on one node or shared memory cannot be allocated.
  static std::unique_ptr<SharedMemoryAllReduce> create(MPI_Comm comm, size_t chunk_bytes);
  ~SharedMemoryAllReduce();
  SharedMemoryAllReduce(const SharedMemoryAllReduce&) = delete;
  SharedMemoryAllReduce& operator=(const SharedMemoryAllReduce&) = delete;

  // In place; collective: every rank calls with the same count.
  void sum(float* data, size_t count);
  void sum(double* data, size_t count);

  size_t chunk_bytes() const { return chunk_bytes_; }

 private:
  struct Barrier;
  SharedMemoryAllReduce() = default;
  template <typename T>
  void sum_impl(T* data, size_t count);
  void barrier();
  char* slot(int rank, int buffer) const;

  MPI_Comm node_ = MPI_COMM_NULL;
  MPI_Win window_ = MPI_WIN_NULL;
  int rank_ = 0;
  int size_ = 1;
  size_t chunk_bytes_ = 0;
  std::vector<char*> segments_;  // each rank's segment, as mapped here
  Barrier* barrier_ = nullptr;   // in rank 0's segment
  int next_buffer_ = 0;          // alternates across calls too (see sum_impl)
};

}  // namespace uda::comm
