// Starts `mpirun -np N` of the worker on this machine, forwards signals to
// it, and returns its exit code. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace uda::cli {

struct LocalLaunch {
  int nproc = 1;
  std::vector<std::string> worker_argv;  // the command each rank runs
  std::string log_path;                  // mpirun's own output ("" = inherit)
};

// The mpirun command line (root and oversubscribe flags when needed).
std::vector<std::string> mpirun_command(const LocalLaunch& launch);
// Runs it in its own process group; SIGINT, SIGTERM, SIGUSR1 and SIGUSR2
// received by this process are forwarded to the group (mpirun forwards them
// to the ranks). Returns the exit code (128+signal if killed).
int run_local(const LocalLaunch& launch);

}  // namespace uda::cli
