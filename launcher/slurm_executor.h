// The SLURM executor of `uda train` and `uda sweep` (docs/SLURM.md).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace uda::cli {

struct SlurmOptions {
  int nodes = 1;
  int ntasks_per_node = 0;  // 0: nproc / nodes
  int gpus_per_node = 0;
  int cpus_per_task = 1;
  std::string time = "01:00:00";
  std::string partition;
  std::string account;
  int signal_lead_s = 120;  // --signal=B:USR2@lead
  int max_requeues = 3;
  std::string extra_sbatch;  // not exposed: every value is validated
};

void add_slurm_options(CLI::App& sub, SlurmOptions& o);
// Renders and submits the batch script; records the job id in the run
// directory. Returns an exit code.
int submit_slurm(const SlurmOptions& o, int nproc, const std::string& run_dir, const std::vector<std::string>& worker_argv);

}  // namespace uda::cli
