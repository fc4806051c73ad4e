// Segmentation and classification metrics from a confusion matrix:
// per-class IoU, mIoU over classes present (mmseg's nanmean), accuracy.
// Torch-free; the worker accumulates with torch and all-reduces the counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace uda::worker {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes);
  int num_classes() const { return n_; }
  // counts[gt * n + pred]
  std::vector<int64_t>& counts() { return counts_; }
  const std::vector<int64_t>& counts() const { return counts_; }
  void add(int gt, int pred, int64_t count = 1);
  // Adds label/prediction arrays of equal length; labels equal to
  // `ignore_index` are skipped; labels outside [0, n) are an error.
  void add(const uint8_t* gt, const int64_t* pred, size_t size, int ignore_index = 255);

  // IoU per class; NaN for classes absent from both labels and predictions.
  std::vector<double> iou() const;
  // Mean over non-NaN IoUs (mmseg's np.nanmean).
  double miou() const;
  double accuracy() const;  // overall pixel (or sample) accuracy
  // Mean over classes that have labels of each class's accuracy (recall):
  // VisDA-2017's metric.
  double mean_class_accuracy() const;
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;

 private:
  int n_;
  std::vector<int64_t> counts_;
};

}  // namespace uda::worker
