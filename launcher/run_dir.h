// Run directories: where `uda train` puts a run (resolved config, hash,
// logs, metrics, checkpoints, status of each rank).
#pragma once

#include <string>

namespace uda::config {
class Config;
}

namespace uda::cli {

// --work-dir if given, else runs/<config file stem>-<first 8 hex of hash>.
std::string run_dir_for(const std::string& config_file, const config::Config& cfg, const std::string& work_dir);

// Summary of the ranks' status files: "" when every rank succeeded; the
// first failed rank's "uda: error: ..." line when it failed on bad input
// (exit 2); else "rank N failed (exit C): <message>" plus the tail of its log.
std::string failed_rank_report(const std::string& run_dir, int tail_lines = 5);

}  // namespace uda::cli
