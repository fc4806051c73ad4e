// Entry point of the `uda` command.
#include "comm/rank_env.h"
#include "core/error.h"
#include "core/log.h"
#include "launcher/commands.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

namespace uda::cli {

GlobalOptions& global_options() {
  static GlobalOptions options;
  return options;
}

}  // namespace uda::cli

int main(int argc, char** argv) {
  using namespace uda;
  CLI::App app{"uda: multi-rank unsupervised domain adaptation and domain generalization training"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return cli::version_text(); });
  app.add_option("--log-level", cli::global_options().log_level,
                 "trace|debug|info|warn|error|off")
      ->default_val("info");
  app.parse_complete_callback([] { log::init({0, 1, cli::global_options().log_level, ""}); });

  cli::add_config_command(app);
  cli::add_convert_command(app);
  cli::add_stats_command(app);
  cli::add_train_command(app);
  cli::add_worker_command(app);
  cli::add_eval_command(app);
  cli::add_infer_command(app);
  cli::add_export_command(app);
  cli::add_diff_command(app);
  cli::add_sweep_command(app);
  cli::add_collect_command(app);
  cli::add_report_command(app);
  cli::add_demo_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "uda: error: " << e.what() << " (command line): run `uda --help` or `uda <command> --help`\n";
    return kExitUserError;
  } catch (const UserError& e) {
    // Every rank of a multi-rank `uda eval` meets the same bad input; one says so.
    if (uda::comm::detect_rank_env().rank == 0) std::cerr << format_user_error(e) << "\n";
    return kExitUserError;
  } catch (const cli::CommandExit& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "uda: internal error: " << e.what()
              << "\n(this is a bug in uda, or an environment problem; please report it with the command line)\n";
    return kExitInternalError;
  }
  return kExitOk;
}
