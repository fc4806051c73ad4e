#include "comm/mpi_communicator.h"

#include "comm/mpi_runtime.h"
#include "comm/serial_executor.h"
#include "comm/shm_allreduce.h"

#include <torch/torch.h>

#include <cstdlib>
#include <exception>
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

bool shm_disabled_by_env() {
  const char* v = std::getenv("UDA_MPI_SHM");
  return v && std::string(v) == "0";
}

// After the sum: the average, and the result back in the caller's dtype.
void finish_reduce(at::Tensor& target, at::Tensor& wire, ReduceOp op, int world) {
  if (op == ReduceOp::Average) {
    if (wire.is_floating_point()) wire.div_(world);
    else wire.div_(world, "floor");
  }
  if (!wire.is_same(target)) target.copy_(wire);
}

template <typename T>
void sum_through_shm(SharedMemoryAllReduce& shm, T* data, size_t count, bool in_place) {
  if (in_place) shm.sum_shared(data, count);
  else shm.sum(data, count);
}

// A sum running on the communicator's thread. Half and bfloat16 tensors
// travel as a float32 copy (exact for the sum of two ranks' values, and the
// rounding of the result matches one cast of the float32 sum). Averaging
// and the copy back happen in the caller's thread once the sum is done.
class MpiWork : public Work {
 public:
  MpiWork(at::Tensor target, at::Tensor wire, ReduceOp op, int world, std::shared_future<void> done)
      : target_(std::move(target)), wire_(std::move(wire)), op_(op), world_(world), done_(std::move(done)) {}
  void wait() override {
    if (finished_) return;
    done_.get();  // rethrows what the exchange threw
    finish();
  }
  bool test() override {
    if (finished_) return true;
    if (done_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    wait();
    return true;
  }

 private:
  void finish() {
    finished_ = true;
    finish_reduce(target_, wire_, op_, world_);
  }
  at::Tensor target_, wire_;
  ReduceOp op_;
  int world_;
  std::shared_future<void> done_;
  bool finished_ = false;
};

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, MpiCommunicatorOptions options) : options_(options) {
  ensure_mpi();
  MPI_Comm_dup(comm, &comm_);
  rank_ = mpi_rank(comm_);
  size_ = mpi_size(comm_);
  if (size_ > 1) {
    if (options_.shared_memory && !shm_disabled_by_env())
      shm_ = SharedMemoryAllReduce::create(comm_, options_.shm_chunk_bytes);
    executor_ = std::make_unique<SerialExecutor>();
  }
}

MpiCommunicator::~MpiCommunicator() {
  if (std::uncaught_exceptions() > 0) {
    // Unwinding after an error on this rank: the other ranks may never join
    // a collective again, so neither wait for queued exchanges nor free
    // shared resources collectively. The process is about to exit.
    (void)executor_.release();
    (void)shm_.release();
    return;
  }
  executor_.reset();  // runs what is queued, then stops
  shm_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::run(const std::function<void()>& job) {
  if (executor_) executor_->run_in_caller(job);
  else job();
}

void MpiCommunicator::barrier() {
  run([this] { MPI_Barrier(comm_); });
}

void MpiCommunicator::broadcast(at::Tensor& tensor, int root) {
  check_cpu_contiguous(tensor, "broadcast");
  auto t = tensor.scalar_type();
  void* data = tensor.data_ptr();
  // Raw pointers are safe in these jobs: run() returns after they ran.
  if (t == at::kHalf || t == at::kBFloat16) {
    // 16-bit payloads travel as raw bytes.
    const int bytes = static_cast<int>(tensor.numel() * 2);
    run([=] { MPI_Bcast(data, bytes, MPI_BYTE, root, comm_); });
    return;
  }
  const int count = static_cast<int>(tensor.numel());
  const MPI_Datatype type = mpi_type(t);
  run([=] { MPI_Bcast(data, count, type, root, comm_); });
}

at::Tensor MpiCommunicator::exchange_buffer(int64_t numel, at::ScalarType dtype) {
  const auto options = torch::TensorOptions().dtype(dtype);
  if (!shm_ || (dtype != at::kFloat && dtype != at::kDouble)) return torch::zeros({numel}, options);
  void* memory = nullptr;
  const size_t bytes = static_cast<size_t>(numel) * c10::elementSize(dtype);
  run([&] { memory = shm_->allocate_shared(bytes); });
  if (!memory) return torch::zeros({numel}, options);  // shared memory exhausted: the copying path
  // The window owns the memory; release_exchange_buffer frees it.
  return torch::from_blob(memory, {numel}, options);
}

void MpiCommunicator::release_exchange_buffer(const at::Tensor& buffer) {
  if (!shm_ || !buffer.defined()) return;
  void* memory = buffer.data_ptr();
  if (!shm_->is_shared(memory, static_cast<size_t>(buffer.nbytes()))) return;
  run([&] { shm_->free_shared(memory); });
}

std::function<void()> MpiCommunicator::sum_job(const at::Tensor& wire) {
  const size_t count = static_cast<size_t>(wire.numel());
  const size_t bytes = count * wire.element_size();
  const auto dtype = wire.scalar_type();
  // Each job holds its buffer (a reference-counted tensor) until it has run.
  if (shm_ && (dtype == at::kFloat || dtype == at::kDouble)) {
    // Exchange buffers (node-shared already) are summed in place; other
    // float tensors above the threshold go through the chunk window.
    const bool in_place = shm_->is_shared(wire.data_ptr(), bytes);
    if (in_place || bytes >= options_.shm_min_bytes)
      return [this, wire, count, in_place] {
        if (wire.scalar_type() == at::kFloat) sum_through_shm(*shm_, wire.data_ptr<float>(), count, in_place);
        else sum_through_shm(*shm_, wire.data_ptr<double>(), count, in_place);
      };
  }
  const MPI_Datatype type = mpi_type(dtype);
  return [this, wire, count, type] {
    MPI_Allreduce(MPI_IN_PLACE, wire.data_ptr(), static_cast<int>(count), type, MPI_SUM, comm_);
  };
}

namespace {
// MPI has no 16-bit float types: half and bfloat16 travel as float32.
at::Tensor wire_of(const at::Tensor& tensor) {
  check_cpu_contiguous(tensor, "all_reduce");
  const auto t = tensor.scalar_type();
  return t == at::kHalf || t == at::kBFloat16 ? tensor.to(at::kFloat) : tensor;
}
}  // namespace

std::unique_ptr<Work> MpiCommunicator::all_reduce_async(at::Tensor tensor, ReduceOp op) {
  at::Tensor wire = wire_of(tensor);
  auto job = sum_job(wire);
  std::shared_future<void> done;
  if (executor_) {
    done = executor_->submit(std::move(job));
  } else {
    job();
    std::promise<void> ready;
    ready.set_value();
    done = ready.get_future().share();
  }
  return std::make_unique<MpiWork>(tensor, wire, op, size_, std::move(done));
}

void MpiCommunicator::all_reduce(at::Tensor tensor, ReduceOp op) {
  at::Tensor wire = wire_of(tensor);
  run(sum_job(wire));
  finish_reduce(tensor, wire, op, size_);
}

at::Tensor MpiCommunicator::all_gather(const at::Tensor& tensor) {
  at::Tensor src = tensor.contiguous();
  check_cpu_contiguous(src, "all_gather");
  std::vector<int64_t> shape{size_};
  for (auto s : src.sizes()) shape.push_back(s);
  at::Tensor out = torch::empty(shape, src.options());
  const int bytes = static_cast<int>(src.numel() * src.element_size());
  const void* in = src.data_ptr();
  void* all = out.data_ptr();
  run([=] { MPI_Allgather(in, bytes, MPI_BYTE, all, bytes, MPI_BYTE, comm_); });
  return out;
}

}  // namespace uda::comm
