// Communicator over MPI for CPU tensors.
//
// Every collective runs on the communicator's own thread (SerialExecutor),
// in call order: all_reduce_async returns at once and the exchange
// progresses while the caller computes (the gradient reducer relies on this
// to overlap with backward). Float sums between ranks of one node go
// through shared memory (SharedMemoryAllReduce) above a size threshold.
#pragma once

#include "comm/communicator.h"

#include <mpi.h>

#include <functional>
#include <memory>

namespace uda::comm {

class SerialExecutor;
class SharedMemoryAllReduce;

struct MpiCommunicatorOptions {
  // Sum fp32/fp64 (and 16-bit floats, reduced in fp32) through a window of
  // node-shared memory when all ranks are on one node. The environment
  // variable UDA_MPI_SHM=0 turns it off (to compare, or to rule it out).
  bool shared_memory = true;
  size_t shm_chunk_bytes = 256u << 10;
  // Every float sum takes the window: its waits sleep after a short spin,
  // while Open MPI polls, taking the core from a rank that still computes.
  size_t shm_min_bytes = 0;
};

class MpiCommunicator : public Communicator {
 public:
  // Uses a private duplicate of `comm`. Collective over `comm`.
  explicit MpiCommunicator(MPI_Comm comm, MpiCommunicatorOptions options = {});
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void barrier() override;
  void broadcast(at::Tensor& tensor, int root) override;
  std::unique_ptr<Work> all_reduce_async(at::Tensor tensor, ReduceOp op) override;
  void all_reduce(at::Tensor tensor, ReduceOp op) override;
  at::Tensor all_gather(const at::Tensor& tensor) override;

  // Whether large float sums take the shared-memory path.
  bool uses_shared_memory() const { return shm_ != nullptr; }

  // See make_exchange_buffer (communicator.h). Collective.
  at::Tensor exchange_buffer(int64_t numel, at::ScalarType dtype);
  void release_exchange_buffer(const at::Tensor& buffer);

 private:
  // Runs `job` in this thread, in order with the asynchronous jobs.
  void run(const std::function<void()>& job);
  // The exchange of all_reduce: a job that sums `wire` in place across ranks.
  std::function<void()> sum_job(const at::Tensor& wire);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  MpiCommunicatorOptions options_;
  std::unique_ptr<SharedMemoryAllReduce> shm_;
  std::unique_ptr<SerialExecutor> executor_;  // last: stopped first
};

}  // namespace uda::comm
