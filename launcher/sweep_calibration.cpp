#include "launcher/sweep_calibration.h"

#include "core/config.h"
#include "launcher/commands.h"
#include "launcher/local_executor.h"
#include "launcher/subprocess.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace uda::cli {

std::string calibration_dir(const std::string& sweep_dir) {
  return fs::absolute(fs::path(sweep_dir) / "calibration" / "run").lexically_normal().string();
}

int run_calibration(const SweepPoint& job, const std::vector<std::string>& sets, int nproc, const std::string& executor,
                    SlurmOptions slurm, const std::string& sweep_dir) {
  std::vector<std::string> all = job.set_args();
  all.insert(all.end(), sets.begin(), sets.end());
  const int64_t max_iters = config::load(job.base, all).get<int64_t>("train.max_iters");
  const int64_t iters = std::min<int64_t>(kCalibrationIterations, max_iters);
  for (const std::string& s : {"train.max_iters=" + std::to_string(iters), std::string("train.eval_interval=0"),
                               std::string("train.log_interval=1"), std::string("train.checkpoint_interval=0")})
    all.push_back(s);
  const std::string dir = calibration_dir(sweep_dir);
  fs::remove_all(dir);
  config::write_resolved(config::load(job.base, all), dir);
  std::cerr << "uda: calibrating the estimate: the first job for " << iters
            << " iterations and one evaluation in " << dir << " (skip with --no-calibration)\n";
  const std::vector<std::string> worker{self_exe(), "--log-level", global_options().log_level, "worker", "--run-dir",
                                        dir,        "--resume",    "never"};
  if (executor == "slurm") {
    slurm.wait = true;
    slurm.report_outcome = false;  // the sweep says "the calibration run failed: <reason>"
    return submit_slurm(slurm, nproc, dir, worker);
  }
  LocalLaunch l;
  l.nproc = nproc;
  l.worker_argv = worker;
  l.log_path = dir + "/launcher.log";
  return run_local(l);
}

}  // namespace uda::cli
