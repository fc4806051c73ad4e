// The subcommands of the `uda` command line. Each lives in its own
// cmd_<name>.cpp and registers itself on the CLI11 app.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace uda::cli {

// Thrown by a subcommand that must end the process with a specific code
// (e.g. kExitRequeue) without it being an error.
struct CommandExit {
  int code;
};

// Global options visible to every subcommand.
struct GlobalOptions {
  std::string log_level = "info";
};
GlobalOptions& global_options();

void add_config_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_stats_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_infer_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_diff_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_collect_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_worker_command(CLI::App& app);

// The version text of `uda --version`.
std::string version_text();

}  // namespace uda::cli
