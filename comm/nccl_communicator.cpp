#include "comm/nccl_communicator.h"

#include "uda/build_info.h"

#include <stdexcept>

#if UDA_HAVE_NCCL
#include "comm/mpi_runtime.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>
#include <torch/torch.h>

namespace uda::comm {

namespace {

void check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw std::runtime_error(std::string("NCCL ") + what + ": " + ncclGetErrorString(r));
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    case at::kInt: return ncclInt32;
    case at::kLong: return ncclInt64;
    case at::kByte: return ncclUint8;
    case at::kChar: return ncclInt8;
    default: throw std::invalid_argument(std::string("NCCL backend: unsupported dtype ") + c10::toString(t));
  }
}

// Completion is an event recorded on the communication stream; wait() makes
// the compute stream wait for it (no host synchronisation), as c10d does.
class NcclWork : public Work {
 public:
  NcclWork(at::Tensor t, at::cuda::CUDAEvent event) : tensor_(std::move(t)), event_(std::move(event)) {}
  void wait() override { event_.block(at::cuda::getCurrentCUDAStream(tensor_.device().index())); }
  bool test() override { return event_.query(); }

 private:
  at::Tensor tensor_;  // keeps the memory alive until the reduction finished
  at::cuda::CUDAEvent event_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(MPI_Comm bootstrap, int local_rank)
      : device_(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank))),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_.index())) {
    rank_ = mpi_rank(bootstrap);
    size_ = mpi_size(bootstrap);
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "get unique id");
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, bootstrap);
    c10::cuda::CUDAGuard guard(device_);
    check(ncclCommInitRank(&comm_, size_, id, rank_), "init rank");
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void barrier() override {
    auto t = torch::zeros({1}, torch::TensorOptions().device(device_));
    all_reduce(t, ReduceOp::Sum);
    c10::cuda::getCurrentCUDAStream(device_.index()).synchronize();
  }

  void broadcast(at::Tensor& tensor, int root) override {
    enter(tensor);
    check(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()), root,
                        comm_, stream_.stream()),
          "broadcast");
    leave(tensor)->wait();
  }

  std::unique_ptr<Work> all_reduce_async(at::Tensor tensor, ReduceOp op) override {
    enter(tensor);
    check(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                        op == ReduceOp::Average ? ncclAvg : ncclSum, comm_, stream_.stream()),
          "all_reduce");
    return leave(tensor);
  }

  at::Tensor all_gather(const at::Tensor& tensor) override {
    at::Tensor src = tensor.contiguous();
    std::vector<int64_t> shape{size_};
    for (auto s : src.sizes()) shape.push_back(s);
    at::Tensor out = torch::empty(shape, src.options());
    enter(src);
    check(ncclAllGather(src.data_ptr(), out.data_ptr(), src.numel(), nccl_type(src.scalar_type()), comm_,
                        stream_.stream()),
          "all_gather");
    leave(out)->wait();
    return out;
  }

 private:
  // The communication stream waits for the work queued so far on the
  // compute stream (the gradients it reduces were produced there).
  void enter(const at::Tensor& t) {
    if (!t.is_cuda() || !t.is_contiguous())
      throw std::invalid_argument("NCCL backend needs contiguous CUDA tensors");
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    ready.block(stream_);
  }
  std::unique_ptr<Work> leave(const at::Tensor& t) {
    // Tell the caching allocator the memory is in use on the comm stream.
    c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), stream_);
    at::cuda::CUDAEvent done;
    done.record(stream_);
    return std::make_unique<NcclWork>(t, std::move(done));
  }

  c10::Device device_;
  c10::cuda::CUDAStream stream_;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm bootstrap, int local_rank) {
  return std::make_unique<NcclCommunicator>(bootstrap, local_rank);
}

std::string nccl_version() {
  int v = 0;
  check(ncclGetVersion(&v), "ncclGetVersion");
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace uda::comm

#else

namespace uda::comm {
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm, int) {
  throw std::runtime_error("this uda was built without NCCL (CPU libtorch); rebuild with a CUDA libtorch");
}
std::string nccl_version() { return ""; }
}  // namespace uda::comm

#endif
