// Communicator over NCCL for CUDA tensors (one device per process). Compiled
// only when the chosen libtorch has CUDA and NCCL is found (UDA_HAVE_NCCL).
#pragma once

#include "comm/communicator.h"

#include <mpi.h>

#include <memory>
#include <string>

namespace uda::comm {

// The unique id is created on rank 0 and broadcast over `bootstrap`; the
// device is `local_rank` (taken from the launcher's environment).
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm bootstrap, int local_rank);

// The version of the NCCL library loaded ("2.28.9"; needs no GPU), or ""
// when the backend is not compiled in.
std::string nccl_version();

}  // namespace uda::comm
