// `uda report RUN_DIR`: one self-contained HTML page of a run directory
// (launcher/report_page.h): its status, final metrics, the curves of
// metrics.jsonl and eval.jsonl drawn by Chart.js, per-class IoU, the
// pictures the worker wrote at evaluation time (report_images/), the last
// logged record and the configuration.
#pragma once

#include <string>

namespace uda::cli {

// Reads RUN_DIR's config.json, config.hash, metrics.jsonl, eval.jsonl,
// final_eval.json, DONE, status/ and report_images/, writes index.html into
// `out_dir` ("" = RUN_DIR/report) and returns its path. `live_interval_s` >
// 0: a page of `uda report --watch` (report_page.h). UserError (naming the
// file and, for malformed JSON, the line) when RUN_DIR or metrics.jsonl is
// missing, metrics.jsonl has no record, or a file holds malformed JSON; a
// last line without its newline that does not parse (a write in progress)
// is left out.
std::string write_report(const std::string& run_dir, const std::string& out_dir = "", int live_interval_s = 0);

// Whether `dir` is a run directory (config.json or metrics.jsonl in it),
// rather than a sweep directory holding runs.
bool is_run_dir(const std::string& dir);

}  // namespace uda::cli
