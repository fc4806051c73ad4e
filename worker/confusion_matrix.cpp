#include "worker/confusion_matrix.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace uda::worker {

ConfusionMatrix::ConfusionMatrix(int num_classes) : n_(num_classes), counts_(static_cast<size_t>(n_) * n_, 0) {}

void ConfusionMatrix::add(int gt, int pred, int64_t count) {
  if (gt < 0 || gt >= n_ || pred < 0 || pred >= n_)
    throw std::out_of_range("confusion matrix: class id out of range: gt " + std::to_string(gt) + ", pred " +
                            std::to_string(pred));
  counts_[static_cast<size_t>(gt) * n_ + pred] += count;
}

void ConfusionMatrix::add(const uint8_t* gt, const int64_t* pred, size_t size, int ignore_index) {
  for (size_t i = 0; i < size; ++i) {
    if (gt[i] == ignore_index) continue;
    add(gt[i], static_cast<int>(pred[i]));
  }
}

std::vector<double> ConfusionMatrix::iou() const {
  std::vector<double> out(n_);
  for (int c = 0; c < n_; ++c) {
    int64_t tp = counts_[static_cast<size_t>(c) * n_ + c], gt = 0, pred = 0;
    for (int k = 0; k < n_; ++k) {
      gt += counts_[static_cast<size_t>(c) * n_ + k];
      pred += counts_[static_cast<size_t>(k) * n_ + c];
    }
    const int64_t uni = gt + pred - tp;
    out[c] = uni == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(tp) / uni;
  }
  return out;
}

double ConfusionMatrix::miou() const {
  double sum = 0;
  int n = 0;
  for (double v : iou())
    if (!std::isnan(v)) sum += v, ++n;
  return n ? sum / n : std::numeric_limits<double>::quiet_NaN();
}

double ConfusionMatrix::accuracy() const {
  int64_t tp = 0, total = 0;
  for (int c = 0; c < n_; ++c) tp += counts_[static_cast<size_t>(c) * n_ + c];
  for (auto v : counts_) total += v;
  return total ? static_cast<double>(tp) / total : std::numeric_limits<double>::quiet_NaN();
}

double ConfusionMatrix::mean_class_accuracy() const {
  double sum = 0;
  int classes = 0;
  for (int c = 0; c < n_; ++c) {
    int64_t labelled = 0;
    for (int k = 0; k < n_; ++k) labelled += counts_[static_cast<size_t>(c) * n_ + k];
    if (labelled == 0) continue;
    sum += static_cast<double>(counts_[static_cast<size_t>(c) * n_ + c]) / labelled;
    ++classes;
  }
  return classes ? sum / classes : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json ConfusionMatrix::to_json(const std::vector<std::string>& class_names) const {
  auto ious = iou();
  nlohmann::json per_class = nlohmann::json::array();
  for (double v : ious) per_class.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));
  const double m = miou(), a = accuracy();
  return {{"miou", std::isnan(m) ? nlohmann::json(nullptr) : nlohmann::json(m)},
          {"per_class_iou", per_class},
          {"accuracy", std::isnan(a) ? nlohmann::json(nullptr) : nlohmann::json(a)},
          {"classes", class_names}};
}

}  // namespace uda::worker
