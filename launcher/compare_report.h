// `uda report SWEEP_DIR` or `uda report RUN_DIR RUN_DIR...`: one page
// comparing runs: a table of the runs (state, varied keys, final metrics,
// a link to each run's own page), their curves overlaid per metric, coloured
// by the sweep's varied keys (launcher/run_groups.h), and `uda collect`'s
// table (DomainBed's tables for domain generalization sweeps).
#pragma once

#include <string>
#include <vector>

namespace uda::cli {

// `dirs`: one sweep directory (the run directories in it) or several run
// directories. Writes each run's page (RUN/report/index.html, for the runs
// that have logged) and the comparison into `out_dir` (default: the sweep's
// report/; required for several run directories); returns the comparison's
// path. `live_interval_s` as for write_report.
std::string write_comparison(const std::vector<std::string>& dirs, const std::string& out_dir, int live_interval_s);

}  // namespace uda::cli
