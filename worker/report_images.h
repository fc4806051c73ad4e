// Pictures of what the model does, written by rank 0 at each evaluation
// into <run>/report_images/iter_<N>/ for `uda report` (train.report_images
// sets how many images; 0 = off):
//   segmentation  the first N evaluation images of rank 0 (image_<k>.png),
//                 their ground truth, prediction and, when the algorithm has
//                 them, pseudo-labels (Algorithm::pseudo_label), label maps in
//                 the palette of worker/label_palette.h, at most 512 pixels on
//                 the longer side;
//   classification every evaluated set's confusion matrix (counts), for up to
//                 64 classes;
//   any method    the algorithm's named image batches as grids
//                 (Algorithm::report_images, e.g. a GAN's samples).
// index.json, written last, lists them with the class names, the palette
// and (domain generalization) the domains and test domains:
//   {"iter": N, "classes": [...], "palette": [[r, g, b], ...],
//    "segmentation": [{"image", "ground_truth", "prediction", "pseudo_label"}],
//    "confusion": [{"set": "env0_in", "counts": [[...], ...]}],
//    "grids": [{"name", "file"}], "domains": [...], "test_domains": [...]}
#pragma once

#include "algos/algorithm.h"
#include "worker/evaluator.h"

#include <nlohmann/json.hpp>

#include <array>
#include <string>
#include <vector>

namespace uda::worker {

// Named image batches [N, C, H, W] in [0, 1] (Algorithm::report_images) as
// grid_<name>.png files in `dir` (created when there is any); returns
// [{"name", "file"}] in their order.
nlohmann::json write_image_grids(const std::string& dir,
                                 const std::vector<std::pair<std::string, at::Tensor>>& batches);

// The algorithm's pictures beside a checkpoint: <run_dir>/samples/iter_<iter>/
// with the grids and index.json {"iter", "grids"}; nothing when the algorithm
// has none. Rank 0, after the checkpoint of `iter` is handed to the writer.
void write_checkpoint_samples(const std::string& run_dir, int64_t iter, algos::Algorithm& algorithm);

class ReportImages : public EvalObserver {
 public:
  // `count` images per evaluation; `mean` and `std` undo the evaluation
  // images' normalisation (data.val.mean, data.val.std).
  ReportImages(int count, std::array<double, 3> mean, std::array<double, 3> std);

  void batch(const std::string& set, const at::Tensor& images, const at::Tensor& labels,
             const at::Tensor& logits) override;
  void matrix(const std::string& set, const ConfusionMatrix& cm, const std::vector<std::string>& classes) override;

  // Writes what this evaluation collected (and the algorithm's pictures)
  // into <run_dir>/report_images/iter_<iter>/, then forgets it. `record`:
  // the evaluation's record (domains, test_domains).
  void write(const std::string& run_dir, int64_t iter, const nlohmann::json& record, algos::Algorithm& algorithm);

 private:
  struct Sample {
    at::Tensor image;         // [1, C, H, W] as evaluated, on its device
    at::Tensor labels, pred;  // [h, w] int64 on the CPU
  };
  int count_;
  std::array<double, 3> mean_, std_;
  std::vector<Sample> samples_;
  std::vector<std::string> dense_sets_;  // sets with label maps: no confusion matrix
  nlohmann::json confusion_ = nlohmann::json::array();
  std::vector<std::string> classes_;
};

}  // namespace uda::worker
