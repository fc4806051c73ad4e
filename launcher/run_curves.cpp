#include "launcher/run_curves.h"

#include <algorithm>
#include <cmath>

namespace uda::cli {

namespace {

void add_new(std::vector<std::string>& keys, const std::string& k) {
  if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
}

bool is_loss(const std::string& k) { return k.rfind("loss", 0) == 0; }

}  // namespace

std::vector<std::pair<double, double>> curve(const IterRecords& records, const std::string& key, double scale) {
  std::vector<std::pair<double, double>> out;
  for (const auto& [iter, rec] : records.by_iter)
    out.emplace_back(static_cast<double>(iter), scale * number_or_nan(rec, key));
  return out;
}

std::vector<std::string> loss_keys(const IterRecords& metrics) {
  std::vector<std::string> keys;
  for (const auto& [iter, rec] : metrics.by_iter)
    for (const auto& [k, v] : rec.items())
      if (is_loss(k)) add_new(keys, k);
  return keys;
}

std::vector<std::string> other_numeric_keys(const IterRecords& metrics) {
  std::vector<std::string> keys;
  for (const auto& [iter, rec] : metrics.by_iter)
    for (const auto& [k, v] : rec.items())
      if (v.is_number() && k != "iter" && k != "lr" && !is_loss(k)) add_new(keys, k);
  return keys;
}

const std::vector<SummaryMetric>& summary_metrics() {
  static const std::vector<SummaryMetric> kMetrics = {{"miou", "mIoU"},
                                                      {"accuracy", "accuracy"},
                                                      {"train_domain_val_acc", "training-domain validation accuracy"},
                                                      {"test_domain_acc", "test-domain accuracy"}};
  return kMetrics;
}

std::vector<SummaryMetric> summary_metrics_present(const IterRecords& evals) {
  std::vector<SummaryMetric> out;
  for (const auto& m : summary_metrics())
    for (const auto& [iter, rec] : evals.by_iter)
      if (std::isfinite(number_or_nan(rec, m.key))) {
        out.push_back(m);
        break;
      }
  return out;
}

}  // namespace uda::cli
