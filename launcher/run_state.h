// The state of a run directory as `uda sweep` and `uda sweep status` see it:
// from DONE, the ranks' status files, metrics.jsonl, eval.jsonl, the SLURM
// job id and (when known) SLURM's state of that job.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace uda::cli {

struct RunState {
  std::string dir;
  std::string state;   // pending | running | done | failed | preempted
  std::string reason;  // failed: the failing rank's message; otherwise ""
  int64_t iteration = 0;
  std::optional<double> last_metric;  // miou of the last evaluation
  std::string job_id;                 // SLURM job reference, "" if none
  std::string slurm_state;            // as SLURM reports it, "" if unknown
};

// `slurm_state`: SLURM's state of the run's job ("" when unknown/none).
RunState read_run_state(const std::string& dir, const std::string& slurm_state = "");
// The SLURM job reference recorded in <dir>/slurm_job_id ("" if none).
std::string recorded_job_id(const std::string& dir);

nlohmann::json to_json(const RunState& s);

}  // namespace uda::cli
