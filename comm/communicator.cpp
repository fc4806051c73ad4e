#include "comm/communicator.h"

#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "comm/nccl_communicator.h"
#include "comm/rank_env.h"
#include "uda/build_info.h"

#include <torch/torch.h>

namespace uda::comm {

Backend backend_for_device(const std::string& device) {
  if (device.rfind("cuda", 0) == 0 && UDA_HAVE_NCCL) return Backend::Nccl;
  return Backend::Mpi;
}

at::Tensor make_exchange_buffer(Communicator& comm, int64_t numel, const at::TensorOptions& options) {
  if (auto* mpi = dynamic_cast<MpiCommunicator*>(&comm); mpi && options.device().is_cpu())
    return mpi->exchange_buffer(numel, options.dtype().toScalarType());
  return torch::zeros({numel}, options);
}

void release_exchange_buffer(Communicator& comm, const at::Tensor& buffer) {
  if (auto* mpi = dynamic_cast<MpiCommunicator*>(&comm)) mpi->release_exchange_buffer(buffer);
}

std::unique_ptr<Communicator> make_communicator(Backend backend) {
  MPI_Comm world = ensure_mpi();
  if (backend == Backend::Nccl) return make_nccl_communicator(world, detect_rank_env().local_rank);
  return std::make_unique<MpiCommunicator>(world);
}

}  // namespace uda::comm
