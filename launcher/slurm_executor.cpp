#include "launcher/slurm_executor.h"

#include "core/error.h"

#include <CLI/CLI.hpp>

namespace uda::cli {

void add_slurm_options(CLI::App& sub, SlurmOptions& o) {
  sub.add_option("--nodes", o.nodes, "SLURM: nodes")->group("SLURM");
  sub.add_option("--ntasks-per-node", o.ntasks_per_node, "SLURM: ranks per node (default nproc/nodes)")->group("SLURM");
  sub.add_option("--gpus-per-node", o.gpus_per_node, "SLURM: GPUs per node")->group("SLURM");
  sub.add_option("--cpus-per-task", o.cpus_per_task, "SLURM: CPUs per rank")->group("SLURM");
  sub.add_option("--time", o.time, "SLURM: time limit")->group("SLURM");
  sub.add_option("--partition", o.partition, "SLURM: partition")->group("SLURM");
  sub.add_option("--account", o.account, "SLURM: account")->group("SLURM");
}

int submit_slurm(const SlurmOptions&, int, const std::string& run_dir, const std::vector<std::string>&) {
  throw UserError("the SLURM executor is not built yet", run_dir, "use --executor local");
}

}  // namespace uda::cli
