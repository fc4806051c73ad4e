// Collective communication between the ranks of a data-parallel job.
// Backends: MPI for CPU tensors, NCCL for CUDA tensors (compiled only when
// libtorch has CUDA). All operations are collective: every rank calls them
// in the same order.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

namespace uda::comm {

enum class ReduceOp { Sum, Average };

// An operation in flight.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  // Non-blocking completion check; also drives progress of the transfer.
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  virtual void barrier() = 0;
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  // In place on a contiguous tensor; fp32, fp64, fp16, bf16, int32, int64.
  virtual std::unique_ptr<Work> all_reduce_async(at::Tensor tensor, ReduceOp op) = 0;
  // Blocking; backends may do it without the asynchronous machinery.
  virtual void all_reduce(at::Tensor tensor, ReduceOp op) { all_reduce_async(std::move(tensor), op)->wait(); }
  // Concatenates every rank's tensor (same shape on all ranks) along a new
  // leading dimension: result[r] = tensor of rank r.
  virtual at::Tensor all_gather(const at::Tensor& tensor) = 0;
};

// A zeroed 1-D tensor for repeated all-reduces (the gradient reducer's
// buckets). The MPI backend places fp32/fp64 buffers in node-shared memory,
// which its all-reduce sums in place without a copy; any other case gets a
// plain tensor. Collective, as is the release.
at::Tensor make_exchange_buffer(Communicator& comm, int64_t numel, const at::TensorOptions& options);
void release_exchange_buffer(Communicator& comm, const at::Tensor& buffer);

enum class Backend { Mpi, Nccl };
// `auto` picks NCCL for CUDA devices when compiled in, MPI otherwise.
Backend backend_for_device(const std::string& device);
// Creates a communicator over MPI_COMM_WORLD (MPI initialised on demand).
std::unique_ptr<Communicator> make_communicator(Backend backend);

}  // namespace uda::comm
