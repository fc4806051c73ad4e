#include "comm/mpi_communicator.h"

#include "comm/mpi_runtime.h"

#include <torch/torch.h>

#include <stdexcept>

namespace uda::comm {

namespace {

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kInt: return MPI_INT32_T;
    case at::kLong: return MPI_INT64_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kChar: return MPI_INT8_T;
    case at::kBool: return MPI_C_BOOL;
    default: throw std::invalid_argument(std::string("MPI backend: unsupported dtype ") + c10::toString(t));
  }
}

void check_cpu_contiguous(const at::Tensor& t, const char* what) {
  if (!t.device().is_cpu()) throw std::invalid_argument(std::string(what) + ": MPI backend needs CPU tensors");
  if (!t.is_contiguous()) throw std::invalid_argument(std::string(what) + ": tensor must be contiguous");
}

// MPI has no 16-bit float types: half and bfloat16 tensors are reduced
// through a float32 copy (exact for the sum of two ranks' values, and the
// rounding of the result matches one cast of the float32 sum).
class MpiWork : public Work {
 public:
  MpiWork(at::Tensor target, at::Tensor wire, ReduceOp op, int world, MPI_Request req)
      : target_(std::move(target)), wire_(std::move(wire)), op_(op), world_(world), req_(req) {}
  ~MpiWork() override {
    if (!done_) MPI_Wait(&req_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (done_) return;
    MPI_Wait(&req_, MPI_STATUS_IGNORE);
    finish();
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    MPI_Test(&req_, &flag, MPI_STATUS_IGNORE);
    if (flag) finish();
    return done_;
  }

 private:
  void finish() {
    done_ = true;
    if (op_ == ReduceOp::Average) {
      if (wire_.is_floating_point()) wire_.div_(world_);
      else wire_.div_(world_, "floor");
    }
    if (!wire_.is_same(target_)) target_.copy_(wire_);
  }
  at::Tensor target_, wire_;
  ReduceOp op_;
  int world_;
  MPI_Request req_;
  bool done_ = false;
};

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) {
  ensure_mpi();
  MPI_Comm_dup(comm, &comm_);
  rank_ = mpi_rank(comm_);
  size_ = mpi_size(comm_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::barrier() { MPI_Barrier(comm_); }

void MpiCommunicator::broadcast(at::Tensor& tensor, int root) {
  check_cpu_contiguous(tensor, "broadcast");
  auto t = tensor.scalar_type();
  if (t == at::kHalf || t == at::kBFloat16) {
    // 16-bit payloads travel as raw bytes.
    MPI_Bcast(tensor.data_ptr(), static_cast<int>(tensor.numel() * 2), MPI_BYTE, root, comm_);
    return;
  }
  MPI_Bcast(tensor.data_ptr(), static_cast<int>(tensor.numel()), mpi_type(t), root, comm_);
}

std::unique_ptr<Work> MpiCommunicator::all_reduce_async(at::Tensor tensor, ReduceOp op) {
  check_cpu_contiguous(tensor, "all_reduce");
  at::Tensor wire = tensor;
  if (tensor.scalar_type() == at::kHalf || tensor.scalar_type() == at::kBFloat16) wire = tensor.to(at::kFloat);
  MPI_Request req;
  MPI_Iallreduce(MPI_IN_PLACE, wire.data_ptr(), static_cast<int>(wire.numel()), mpi_type(wire.scalar_type()),
                 MPI_SUM, comm_, &req);
  return std::make_unique<MpiWork>(tensor, wire, op, size_, req);
}

at::Tensor MpiCommunicator::all_gather(const at::Tensor& tensor) {
  at::Tensor src = tensor.contiguous();
  check_cpu_contiguous(src, "all_gather");
  std::vector<int64_t> shape{size_};
  for (auto s : src.sizes()) shape.push_back(s);
  at::Tensor out = torch::empty(shape, src.options());
  const int bytes = static_cast<int>(src.numel() * src.element_size());
  MPI_Allgather(src.data_ptr(), bytes, MPI_BYTE, out.data_ptr(), bytes, MPI_BYTE, comm_);
  return out;
}

}  // namespace uda::comm
