// The curves of a run's metrics.jsonl and eval.jsonl records, shared by the
// run page and the comparison page of `uda report`.
#pragma once

#include "launcher/iter_records.h"

#include <string>
#include <utility>
#include <vector>

namespace uda::cli {

// (iteration, scale * value) of every record; NaN where the key has no number.
std::vector<std::pair<double, double>> curve(const IterRecords& records, const std::string& key, double scale = 1);

// The keys that start with "loss", in order of first appearance.
std::vector<std::string> loss_keys(const IterRecords& metrics);

// The numeric keys of the records other than iter, lr and the losses, in
// order of first appearance (step_time, data_time, max_rss_mb, ...).
std::vector<std::string> other_numeric_keys(const IterRecords& metrics);

// The summary metrics of an evaluation record, key and label: segmentation's
// mIoU and accuracy, domain generalization's training-domain validation and
// test-domain accuracy (worker/evaluator.h).
struct SummaryMetric {
  const char* key;
  const char* label;
};
const std::vector<SummaryMetric>& summary_metrics();
// Those of summary_metrics() that some record has a number for.
std::vector<SummaryMetric> summary_metrics_present(const IterRecords& evals);

}  // namespace uda::cli
