// Process-wide MPI lifetime: initialised once with MPI_THREAD_MULTIPLE (the
// checkpoint writer thread communicates while training runs), finalised at exit.
#pragma once

#include <mpi.h>

namespace uda::comm {

// Initialises MPI if needed (idempotent). Returns the world communicator.
MPI_Comm ensure_mpi();
// A duplicate of the world communicator for checkpoint and control traffic,
// so that background collectives never interleave with training collectives.
MPI_Comm control_comm();
int mpi_rank(MPI_Comm comm);
int mpi_size(MPI_Comm comm);

}  // namespace uda::comm
