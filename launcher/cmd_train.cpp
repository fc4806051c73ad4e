// `uda train CONFIG ...`: resolves the config into a run directory and
// starts the data-parallel workers (mpirun locally; inside an existing MPI
// or SLURM allocation this process is itself a worker).
// `uda worker --run-dir DIR`: one rank (what mpirun/srun start).
#include "comm/rank_env.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "launcher/commands.h"
#include "launcher/subprocess.h"
#include "launcher/local_executor.h"
#include "launcher/run_dir.h"
#include "launcher/slurm_executor.h"
#include "worker/worker_main.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace uda::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  int nproc = 1;
  std::string executor = "local";
  std::string resume = "auto";
  std::string work_dir;
  SlurmOptions slurm;
};

// Writes the resolved config into the run directory, refusing to mix two
// different configs in one directory.
std::string prepare_run_dir(const TrainArgs& a, const config::Config& cfg) {
  const std::string dir = run_dir_for(a.config, cfg, a.work_dir);
  const fs::path hash_file = fs::path(dir) / "config.hash";
  if (fs::exists(hash_file) && a.resume != "never") {
    std::string old = fs_util::read_file(hash_file.string());
    old.erase(old.find_last_not_of(" \n") + 1);
    if (old != cfg.hash())
      throw UserError("run directory holds a run of another config (hash " + old + ", this one " + cfg.hash() + ")",
                      dir, "choose another --work-dir, or --resume never to start it afresh");
  }
  config::write_resolved(cfg, dir);
  return dir;
}

int finish(int code, const std::string& run_dir) {
  if (code == 0) {
    std::cerr << "uda: training finished; results in " << run_dir << "\n";
    return 0;
  }
  if (code == kExitRequeue) {
    std::cerr << "uda: training checkpointed on a preemption signal; resume with --resume auto (exit "
              << kExitRequeue << ")\n";
    return kExitRequeue;
  }
  if (const auto failure = failed_rank(run_dir)) {
    std::cerr << failure->text() << "\n";
  } else {
    std::cerr << "uda: error: training failed with exit code " << code << " (" << run_dir
              << "/logs): read the rank logs for the cause\n";
  }
  return code == kExitUserError ? kExitUserError : (code == 0 ? 0 : kExitInternalError);
}

}  // namespace

void add_train_command(CLI::App& app) {
  static TrainArgs a;
  auto* sub = app.add_subcommand("train", "Launch data-parallel training of a config");
  sub->add_option("config", a.config, "Config file (JSON)")->required();
  sub->add_option("--set", a.sets, "Override a key: a.b.c=VALUE (VALUE parsed as JSON, else a string)");
  sub->add_option("--nproc", a.nproc, "Ranks (processes) to start")->check(CLI::Range(1, 1 << 16));
  sub->add_option("--executor", a.executor, "local (mpirun) or slurm (sbatch + srun)")
      ->check(CLI::IsMember({"local", "slurm"}));
  sub->add_option("--resume", a.resume, "auto (continue from the run's latest checkpoint), never, or a checkpoint dir");
  sub->add_option("--work-dir", a.work_dir, "Run directory (default runs/<config>-<hash>)");
  add_slurm_options(*sub, a.slurm);
  sub->callback([] {
    auto cfg = config::load(a.config, a.sets);
    const std::string dir = prepare_run_dir(a, cfg);
    worker::WorkerArgs wa{dir, a.resume, global_options().log_level};
    if (comm::launched_as_rank()) throw CommandExit{worker::run_worker(wa)};
    if (a.executor == "slurm") {
      throw CommandExit{submit_slurm(a.slurm, a.nproc, dir, {self_exe(), "worker", "--run-dir", dir, "--resume", a.resume,
                                                           "--log-level", global_options().log_level})};
    }
    std::cerr << "uda: starting " << a.nproc << " rank(s), run directory " << dir << "\n";
    LocalLaunch l;
    l.nproc = a.nproc;
    l.worker_argv = {self_exe(), "--log-level", global_options().log_level, "worker", "--run-dir", dir, "--resume",
                     a.resume};
    throw CommandExit{finish(run_local(l), dir)};
  });
}

void add_worker_command(CLI::App& app) {
  static worker::WorkerArgs w;
  auto* sub = app.add_subcommand("worker", "Run one training rank (started by `uda train` through mpirun or srun)");
  sub->add_option("--run-dir", w.run_dir, "Run directory written by `uda train`")->required();
  sub->add_option("--resume", w.resume, "auto, never, or a checkpoint directory");
  sub->callback([] {
    w.log_level = global_options().log_level;
    throw CommandExit{worker::run_worker(w)};
  });
}

}  // namespace uda::cli
