// Evaluation on all ranks: each rank predicts its part of the set, the
// confusion matrices are all-reduced, and every rank gets the same metrics
// (mIoU and per-class IoU for segmentation, accuracy for classification).
#pragma once

#include "comm/communicator.h"
#include "worker/batch_source.h"
#include "worker/confusion_matrix.h"

#include <functional>

namespace uda::worker {

using PredictFn = std::function<at::Tensor(const at::Tensor& images)>;
// The attacked images [N, C, H, W] of evaluation images and their class ids
// (worker/robust_eval.h).
using AttackFn = std::function<at::Tensor(const at::Tensor& images, const at::Tensor& labels)>;

// Sees what an evaluation computes on this rank (worker/report_images.h
// makes pictures of it). It must not communicate: it runs on one rank.
class EvalObserver {
 public:
  virtual ~EvalObserver() = default;
  // One batch of set `set` ("" for plain validation): the images as given
  // to predict, the labels and the logits.
  virtual void batch(const std::string& set, const at::Tensor& images, const at::Tensor& labels,
                     const at::Tensor& logits) = 0;
  // The set's confusion matrix over all ranks, with the class names.
  virtual void matrix(const std::string& set, const ConfusionMatrix& cm, const std::vector<std::string>& classes) = 0;
};

// Logits are resized bilinearly (align_corners false) to the label size
// before the argmax, as mmseg does for full-resolution validation labels.
// With `attack` (may be null), `attacked` (not null then) receives the
// confusion matrix of the predictions on the attacked images.
ConfusionMatrix evaluate(const PredictFn& predict, EvalSource& data, comm::Communicator& comm,
                         EvalObserver* observer = nullptr, const std::string& set = "",
                         const AttackFn* attack = nullptr, ConfusionMatrix* attacked = nullptr);

// Every set of a suite (worker/batch_source.h): the validation set's mIoU,
// per-class IoU and accuracy unprefixed; a named set's accuracy and mean
// class accuracy as <name>_acc and <name>_class_acc; then the suite's
// summaries (DG: train_domain_val_acc, test_domain_acc). The same record in
// training (eval.jsonl) and in `uda eval`. `observer` (may be null) sees
// every batch and set.
// `before_set` (may be empty) is told each set's domain (EvalSuite::Set::domain)
// before its images are predicted, for methods that predict per domain.
// With `attack` (may be null) every set is also measured on its attacked
// images: pgd_accuracy and pgd_class_accuracy for the validation set,
// <name>_pgd_acc and <name>_pgd_class_acc for a named one, and the suite's
// summaries of those, prefixed pgd_ (DG: pgd_train_domain_val_acc,
// pgd_test_domain_acc).
nlohmann::json evaluate_suite(const PredictFn& predict, EvalSuite& suite, comm::Communicator& comm,
                              EvalObserver* observer = nullptr,
                              const std::function<void(const std::string&)>& before_set = {},
                              const AttackFn* attack = nullptr);

// Adds a batch to a confusion matrix (labels 255 ignored; other labels
// outside [0, C) are an error naming the value).
void accumulate(ConfusionMatrix& cm, const at::Tensor& logits, const at::Tensor& labels);

// The predicted classes (int64, on the CPU): [N, h, w] of segmentation
// logits [N, C, H, W] resized to the labels' size h x w as accumulate()
// does, or [N] of classification logits [N, C].
at::Tensor predicted_classes(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace uda::worker
