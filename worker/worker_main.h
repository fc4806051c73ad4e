// One training rank, end to end: MPI, logging, config, device, data,
// algorithm, checkpoints, the loop, and the rank's status file.
#pragma once

#include <string>

namespace uda::worker {

struct WorkerArgs {
  std::string run_dir;         // holds config.json (resolved) written by `uda train`
  std::string resume = "auto"; // auto | never | <checkpoint dir>
  std::string log_level = "info";
};

// Returns the process exit code (kExitOk, kExitRequeue, kExitUserError, ...).
// Writes <run>/status/rank-<N>.json with the outcome and, on failure, the
// error line, so that the launcher can say which rank failed and why.
int run_worker(const WorkerArgs& args);

}  // namespace uda::worker
