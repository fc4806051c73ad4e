// The main() of every `mpirun -np 2` test binary: MPI up (finalised at exit
// by comm/mpi_runtime), one intra-op thread per rank (two ranks share the
// cores), and an exit code that fails on every rank when any rank failed, so
// mpirun reports the failure whichever rank saw it.
#include "comm/mpi_runtime.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  uda::comm::ensure_mpi();
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(1);
  int rc = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}
