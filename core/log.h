// Rank-tagged logging on top of spdlog.
//
// Rank 0 logs to the console; every rank logs to <run>/logs/rank-<N>.log
// when a run directory is given. Use spdlog's free functions
// (spdlog::info(...)) after init().
#pragma once

#include <string>

namespace uda::log {

struct Options {
  int rank = 0;
  int world_size = 1;
  std::string level = "info";  // trace|debug|info|warn|error|off
  std::string run_dir;         // empty: console only
  bool console_all_ranks = false;
};

void init(const Options& options);
// Validates a level name; UserError for an unknown one.
void check_level(const std::string& level);
// An error record for the rank's log file only: for a message that the
// launcher prints itself (a user error), so that the console shows it once.
void error_to_file(const std::string& message);

}  // namespace uda::log
