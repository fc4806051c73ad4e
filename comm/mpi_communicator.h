// Communicator over MPI for CPU tensors.
#pragma once

#include "comm/communicator.h"

#include <mpi.h>

namespace uda::comm {

class MpiCommunicator : public Communicator {
 public:
  // Uses a private duplicate of `comm`.
  explicit MpiCommunicator(MPI_Comm comm);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void barrier() override;
  void broadcast(at::Tensor& tensor, int root) override;
  std::unique_ptr<Work> all_reduce_async(at::Tensor tensor, ReduceOp op) override;
  at::Tensor all_gather(const at::Tensor& tensor) override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace uda::comm
