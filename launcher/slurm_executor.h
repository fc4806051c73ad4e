// The SLURM executor of `uda train` and `uda sweep` (docs/SLURM.md): renders
// the batch script (sbatch_script.h), submits it with sbatch, records the
// job id in the run directory, and optionally waits for the job to end.
#pragma once

#include <map>
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
  bool wait = false;  // block until the job ends; exit with the run's status
  bool report_outcome = true;  // with wait: say how the run ended (a caller with its own message: false)
  std::string extra_sbatch;  // not exposed: every value is validated
};

void add_slurm_options(CLI::App& sub, SlurmOptions& o);

// Renders and submits the batch script of one run; records the job id in
// `<run>/slurm_job_id`. worker_argv is the worker command as `uda train`
// builds it (binary, "worker", --run-dir, --resume, options). Returns an
// exit code: 0 once submitted, or with o.wait the run's final status.
int submit_slurm(const SlurmOptions& o, int nproc, const std::string& run_dir, const std::vector<std::string>& worker_argv);

// Submits one job array over `run_dirs` (task i runs run_dirs[i]) with at
// most `max_parallel` tasks at a time. Writes the list file and the script
// under `sweep_dir/slurm/`, records `<array>_<i>` in each run's
// slurm_job_id, and returns the array job id.
std::string submit_slurm_array(const SlurmOptions& o, int nproc, const std::string& sweep_dir,
                               const std::vector<std::string>& run_dirs, int max_parallel,
                               const std::vector<std::string>& worker_prefix);

// State of jobs as SLURM reports them (PENDING, RUNNING, COMPLETED, ...),
// keyed by job reference ("123" or "123_4"); jobs SLURM no longer knows are
// absent. Empty when SLURM's commands are not available.
std::map<std::string, std::string> slurm_job_states(const std::vector<std::string>& job_refs);

// Blocks until SLURM reports the job finished (or forgets it).
void wait_for_slurm_job(const std::string& job_ref, double poll_s = 0.5);

// The exit code `uda train` reports for a finished run directory: 0 (DONE),
// 75 (checkpointed, not requeued), 2/1 with the failed rank's report on
// stderr (nothing printed when `say` is false).
int run_dir_exit_code(const std::string& run_dir, bool say = true);

}  // namespace uda::cli
