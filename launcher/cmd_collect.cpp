// `uda collect DIR`: tables of mean ± std over seeds with hyper-parameter
// selection (collect_table.h).
#include "launcher/collect_table.h"
#include "launcher/commands.h"

#include "core/error.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace uda::cli {

void add_collect_command(CLI::App& app) {
  struct Args {
    std::string dir, select = "oracle", metric = "miou", format = "md";
  };
  static Args a;
  auto* sub = app.add_subcommand("collect", "Tables of mean and std over seeds, hyper-parameters chosen per rule");
  sub->add_option("dir", a.dir, "Sweep directory (or one run directory)")->required();
  sub->add_option("--select", a.select,
                  "Model selection: oracle (best test-domain eval), last (final eval), train_val (eval at the best "
                  "training-domain validation metric)")
      ->check(CLI::IsMember({"train_val", "oracle", "last"}));
  sub->add_option("--metric", a.metric, "Metric of eval.jsonl to report (miou, accuracy, ..., or iou.<class> for one class's IoU)");
  sub->add_option("--format", a.format, "md, csv or json")->check(CLI::IsMember({"md", "csv", "json"}));
  sub->callback([] {
    const auto runs = read_runs(a.dir);
    if (runs.empty()) throw UserError("no run directories (with config.json)", a.dir, "give a sweep directory");
    const auto r = collect(runs, a.select, a.metric);
    if (a.format == "json")
      std::cout << to_json(r).dump(2) << "\n";
    else if (a.format == "csv")
      std::cout << format_csv(r);
    else
      std::cout << format_markdown(r);
    throw CommandExit{0};
  });
}

}  // namespace uda::cli
