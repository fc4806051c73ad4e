// Child processes of the launcher: run-and-capture (sbatch, squeue,
// scontrol) and start-in-background (local sweep slots). No shell is ever
// involved: arguments reach the child exactly as given.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace uda::cli {

struct Captured {
  int exit_code = -1;  // 127: not found; 128+N: killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) to completion and captures both streams.
Captured run_capture(const std::vector<std::string>& argv);

// Starts argv in its own process group with stdout and stderr appended to
// log_path; returns its pid.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path);

// Exit code of a waitpid status (128+N for signal N).
int exit_code_of(int wait_status);

// The path of the running `uda` executable (children run the same build),
// "uda" when /proc is unavailable.
std::string self_exe();

}  // namespace uda::cli
