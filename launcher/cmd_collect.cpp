// `uda collect DIR`: tables of mean ± std over seeds with hyper-parameter
// selection (collect_table.h), or, for domain generalization runs,
// DomainBed's model selection and tables (dg_table.h).
#include "launcher/collect_table.h"
#include "launcher/commands.h"
#include "launcher/dg_runs.h"
#include "launcher/dg_table.h"

#include "core/error.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

namespace uda::cli {

namespace {

struct CollectArgs {
  std::string dir, select = "oracle", selection, metric = "miou", format = "md";
};

// DomainBed's tables: with --selection, or by default when every run is a
// domain generalization run (then training-domain validation, DomainBed's
// first method).
void collect_dg(const CollectArgs& a, const std::vector<RunRecord>& runs) {
  std::vector<std::string> notes;
  const auto dg = dg_runs(runs, &notes);
  if (dg.empty())
    throw UserError("no finished domain generalization run (config data.test_domains)", a.dir,
                    "wait for the runs to finish, or leave out --selection for other runs");
  const DgReport r = dg_report(parse_dg_selection(a.selection.empty() ? "training_domain" : a.selection), dg, notes);
  if (a.format == "json")
    std::cout << dg_json(r).dump(2) << "\n";
  else if (a.format == "csv")
    std::cout << dg_csv(r);
  else if (a.format == "latex")
    std::cout << dg_latex(r);
  else
    std::cout << dg_markdown(r);
}

void collect_groups(const CollectArgs& a, const std::vector<RunRecord>& runs) {
  if (a.format == "latex")
    throw UserError("--format latex is for DomainBed's tables of domain generalization runs", "--format",
                    "use md, csv or json");
  const auto r = collect(runs, a.select, a.metric);
  if (a.format == "json")
    std::cout << to_json(r).dump(2) << "\n";
  else if (a.format == "csv")
    std::cout << format_csv(r);
  else
    std::cout << format_markdown(r);
}

}  // namespace

void add_collect_command(CLI::App& app) {
  static CollectArgs a;
  auto* sub = app.add_subcommand("collect", "Tables of mean and std over seeds, hyper-parameters chosen per rule");
  sub->add_option("dir", a.dir, "Sweep directory (or one run directory)")->required();
  auto* select = sub->add_option("--select", a.select,
                                 "Model selection: oracle (best test-domain eval), last (final eval), train_val (eval "
                                 "at the best training-domain validation metric)")
                     ->check(CLI::IsMember({"train_val", "oracle", "last"}));
  sub->add_option("--selection", a.selection,
                  "Domain generalization runs: DomainBed's model selection, training_domain (default), "
                  "leave_one_out or oracle; DomainBed's tables")
      ->check(CLI::IsMember({"training_domain", "leave_one_out", "oracle"}))
      ->excludes(select);
  sub->add_option("--metric", a.metric,
                  "Metric of eval.jsonl to report (miou, accuracy, ..., or iou.<class> for one class's IoU)");
  sub->add_option("--format", a.format, "md, csv, json, or latex (DomainBed's tables)")
      ->check(CLI::IsMember({"md", "csv", "json", "latex"}));
  sub->callback([select] {
    const auto runs = read_runs(a.dir);
    if (runs.empty()) throw UserError("no run directories (with config.json)", a.dir, "give a sweep directory");
    const bool all_dg = std::all_of(runs.begin(), runs.end(), is_dg_run);
    if (!a.selection.empty() || (all_dg && select->count() == 0))
      collect_dg(a, runs);
    else
      collect_groups(a, runs);
    throw CommandExit{0};
  });
}

}  // namespace uda::cli
