// The calibration run of a DomainBed-protocol sweep with nothing measured
// yet: its first job for a few iterations with one evaluation, in
// <sweep>/calibration/run (not a run of the sweep: collect and status do
// not see it), locally or as one SLURM job. Its step and evaluation times
// give the sweep's estimate (sweep_estimate.h).
#pragma once

#include "launcher/slurm_executor.h"
#include "launcher/sweep_point.h"

#include <string>
#include <vector>

namespace uda::cli {

inline constexpr int kCalibrationIterations = 20;

// The calibration run directory of a sweep directory.
std::string calibration_dir(const std::string& sweep_dir);

// Runs `job` (with the sweep's --set arguments) for
// min(kCalibrationIterations, its max_iters) iterations, evaluating once at
// the end and checkpointing only then; returns the run's exit code.
// `executor` is local or slurm (then with `slurm`, waiting for the job).
int run_calibration(const SweepPoint& job, const std::vector<std::string>& sets, int nproc, const std::string& executor,
                    SlurmOptions slurm, const std::string& sweep_dir);

}  // namespace uda::cli
