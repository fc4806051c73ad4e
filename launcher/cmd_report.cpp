// `uda report RUN_DIR`: loss, learning-rate and mIoU curves, a per-class IoU
// chart and an HTML page of a run directory (report.h).
#include "launcher/commands.h"
#include "launcher/report.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace uda::cli {

void add_report_command(CLI::App& app) {
  struct Args {
    std::string run_dir, out;
  };
  static Args a;
  auto* sub = app.add_subcommand("report", "Curves, per-class plots (PNG) and an HTML page of a run");
  sub->add_option("run_dir", a.run_dir, "Run directory written by `uda train`")->required();
  sub->add_option("--out", a.out, "Output directory (default: RUN_DIR/report)");
  sub->callback([] { std::cout << write_report(a.run_dir, a.out) << "\n"; });
}

}  // namespace uda::cli
