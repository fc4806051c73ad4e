// Run directories: where `uda train` puts a run (resolved config, hash,
// logs, metrics, checkpoints, status of each rank).
#pragma once

#include <optional>
#include <string>

namespace uda::config {
class Config;
}

namespace uda::cli {

// --work-dir if given, else runs/<config file stem>-<first 8 hex of hash>.
std::string run_dir_for(const std::string& config_file, const config::Config& cfg, const std::string& work_dir);

// Why the first failed rank of a run stopped, from the ranks' status files.
struct RankFailure {
  bool user_error = false;  // bad input (exit 2): `reason` is the error line's text
  std::string reason;       // one line, without "uda: error: "; else "rank N failed (exit C): <message>"
  std::string log_tail;     // "" for a user error (it would only repeat it); else the last lines of the rank log
  // What a launcher prints: "uda: error: <reason>" and the log tail.
  std::string text() const;
};

// nullopt when no rank failed (every status is done or preempted, or none
// was written).
std::optional<RankFailure> failed_rank(const std::string& run_dir, int tail_lines = 5);

}  // namespace uda::cli
