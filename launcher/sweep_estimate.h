// How long a sweep will take, from what its finished runs measured:
// metrics.jsonl "step_time" (seconds per iteration) and eval.jsonl
// "eval_seconds" (seconds per evaluation). A job's time is its iterations
// times the measured time per sample (step time / data.batch_per_rank, so
// that drawn batch sizes scale it) times its batch, plus its evaluations
// times the measured evaluation time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace uda::cli {

// What a job's duration depends on, from its resolved config.
struct JobShape {
  std::string source;     // data.source.path
  std::string algorithm;  // algorithm.name
  int64_t iterations = 0;  // train.max_iters
  int64_t evaluations = 0;  // ceil(max_iters / eval_interval); 1 for eval_interval 0
  int64_t batch_per_rank = 1;
};
JobShape job_shape(const nlohmann::json& resolved_config);

struct RunTiming {
  JobShape shape;
  double seconds_per_sample = 0;  // mean step_time (the first line left out when there are more) / batch_per_rank
  std::optional<double> eval_seconds;  // mean over the evaluations
};

// The timing of a finished run directory; nullopt when it is not finished
// or logged no step_time.
std::optional<RunTiming> read_timing(const std::string& run_dir);
// Of every finished run directly under `sweep_dir` (none when it does not exist).
std::vector<RunTiming> read_timings(const std::string& sweep_dir);

// Seconds of a job from the timings of runs of the same dataset and
// algorithm, else of the same dataset, else of all; nullopt when there are
// none.
std::optional<double> job_seconds(const JobShape& job, const std::vector<RunTiming>& timings);

// "2 h 05 min", "14 min", "40 s".
std::string format_duration(double seconds);

}  // namespace uda::cli
