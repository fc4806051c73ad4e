#include "comm/nccl_communicator.h"
#include "launcher/commands.h"
#include "uda/build_info.h"
#include "worker/torch_runtime.h"

#include <hdf5.h>
#include <mpi.h>

#include <string>

namespace uda::cli {

std::string version_text() {
  std::string s = std::string("uda ") + UDA_VERSION + "\n";
  s += "libtorch " + torch_runtime_description() + "\n";
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi, &len);
  std::string mpis(mpi, len);
  auto nl = mpis.find_first_of("\n,");
  s += "MPI " + mpis.substr(0, nl) + "\n";
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  s += "HDF5 " + std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel) + "\n";
  const std::string nccl = comm::nccl_version();
  s += nccl.empty() ? std::string("NCCL backend not compiled (CPU libtorch)\n") : "NCCL " + nccl + " (backend compiled in)\n";
  return s;
}

}  // namespace uda::cli
