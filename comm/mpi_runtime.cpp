#include "comm/mpi_runtime.h"

#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace uda::comm {

namespace {
std::once_flag g_init_once;
MPI_Comm g_control = MPI_COMM_NULL;

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) {
    if (g_control != MPI_COMM_NULL) MPI_Comm_free(&g_control);
    MPI_Finalize();
  }
}
}  // namespace

MPI_Comm ensure_mpi() {
  std::call_once(g_init_once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
      if (provided < MPI_THREAD_MULTIPLE)
        throw std::runtime_error("MPI library does not provide MPI_THREAD_MULTIPLE");
      std::atexit(finalize_at_exit);
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &g_control);
  });
  return MPI_COMM_WORLD;
}

MPI_Comm control_comm() {
  ensure_mpi();
  return g_control;
}

int mpi_rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

int mpi_size(MPI_Comm comm) {
  int s = 0;
  MPI_Comm_size(comm, &s);
  return s;
}

}  // namespace uda::comm
