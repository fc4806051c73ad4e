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
//
// Buffers from allocate_shared() skip the copy: every rank maps every rank's
// buffer, so after one barrier each rank sums its share of the elements over
// all ranks and writes the sum into every rank's buffer, and a second barrier
// ends the exchange. Per rank that is one read and one write of the buffer,
// the memory traffic of a single memcpy. The gradient reducer keeps its
// buckets in such buffers.
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

  // Collective. A zeroed buffer of `bytes` in memory that every rank maps;
  // nullptr on every rank if one could not get it.
  void* allocate_shared(size_t bytes);
  // Collective, with the pointer allocate_shared returned on this rank.
  void free_shared(void* buffer);
  // Whether [data, data + bytes) lies inside one buffer from allocate_shared.
  bool is_shared(const void* data, size_t bytes) const;
  // In place on a range of a shared buffer, at the same offset on every rank
  // (collective); the sum is in rank order, as for sum().
  void sum_shared(float* data, size_t count);
  void sum_shared(double* data, size_t count);

 private:
  struct Barrier;
  struct SharedBuffer {
    MPI_Win window = MPI_WIN_NULL;
    std::vector<char*> segments;  // every rank's buffer, as mapped here
    size_t bytes = 0;
  };
  SharedMemoryAllReduce() = default;
  template <typename T>
  void sum_impl(T* data, size_t count);
  template <typename T>
  void sum_shared_impl(T* data, size_t count);
  const SharedBuffer* buffer_of(const void* data, size_t bytes) const;
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
  std::vector<SharedBuffer> shared_;
};

}  // namespace uda::comm
