// `uda report RUN_DIR`: plots of a run directory's metrics.jsonl and
// eval.jsonl (PNG, drawn by png_canvas.h) and an HTML page that carries
// every label, axis range and legend (the images hold no text).
#pragma once

#include "launcher/png_canvas.h"

#include <cstddef>
#include <string>

namespace uda::cli {

// Size of the line charts (loss.png, lr.png, miou.png), in pixels.
inline constexpr int kReportChartWidth = 800;
inline constexpr int kReportChartHeight = 360;
// per_class_iou.png is kReportChartWidth wide and this high for n classes
// (one horizontal bar per class, top to bottom in class order).
int per_class_chart_height(size_t n);

// The colour of the i-th series of a line chart (the legend in the HTML
// page names it); bars of per_class_iou.png use series_colour(0).
Rgb series_colour(size_t i);

// Reads RUN_DIR's config.json, metrics.jsonl, eval.jsonl, final_eval.json,
// DONE and status/, writes loss.png, lr.png, miou.png, per_class_iou.png and
// index.html into `out_dir` ("" = RUN_DIR/report) and returns the path of
// index.html. Charts without data are not written (and stale ones of an
// earlier report removed); the page says why. UserError (naming the file and,
// for malformed JSON, the line) when RUN_DIR or metrics.jsonl is missing,
// metrics.jsonl has no record, or a file holds malformed JSON; a last line
// without its newline that does not parse (a write in progress) is ignored.
std::string write_report(const std::string& run_dir, const std::string& out_dir = "");

}  // namespace uda::cli
