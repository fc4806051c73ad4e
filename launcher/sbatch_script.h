// The SLURM batch script of a training job (one run, or a job array whose
// task i runs line i of a list of run directories), rendered from the
// template slurm/train.sbatch.in (embedded at build time).
#pragma once

#include <string>
#include <vector>

namespace uda::cli {

struct SbatchSpec {
  std::string job_name = "uda";
  int nodes = 1;
  int ntasks_per_node = 1;
  int gpus_per_node = 0;
  int cpus_per_task = 1;
  std::string time = "01:00:00";
  std::string partition;  // "" = the cluster's default
  std::string account;    // "" = the user's default
  int signal_lead_s = 120;
  int max_requeues = 3;
  std::string output;  // sbatch --output/--error (may hold %j, %A, %a)
  // Exactly one of these: the run directory of a single job, or the list
  // file of an array job (then `array` is e.g. "0-3%2").
  std::string run_dir;
  std::string run_list;
  std::string array;
  // The worker command without --run-dir/--resume (the script appends them).
  std::vector<std::string> worker_argv;
  std::string resume = "auto";  // first attempt; requeued attempts use auto
};

// Validates every field (whitelist per field; UserError naming the field)
// and returns the script. Values are shell-quoted where the shell reads them.
std::string render_sbatch(const SbatchSpec& spec);

// The raw template (slurm/train.sbatch.in).
const std::string& sbatch_template();

}  // namespace uda::cli
