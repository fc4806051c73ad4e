#include "comm/communicator.h"

#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "comm/nccl_communicator.h"
#include "comm/rank_env.h"
#include "uda/build_info.h"

namespace uda::comm {

Backend backend_for_device(const std::string& device) {
  if (device.rfind("cuda", 0) == 0 && UDA_HAVE_NCCL) return Backend::Nccl;
  return Backend::Mpi;
}

std::unique_ptr<Communicator> make_communicator(Backend backend) {
  MPI_Comm world = ensure_mpi();
  if (backend == Backend::Nccl) return make_nccl_communicator(world, detect_rank_env().local_rank);
  return std::make_unique<MpiCommunicator>(world);
}

}  // namespace uda::comm
