// Fabricated run and sweep directories for the `uda report` tests, as the
// trainer, the worker's report images and `uda sweep` write them.
#pragma once

#include <string>
#include <vector>

namespace uda::test {

// Class names of the fake segmentation run, one of them hostile HTML.
const std::vector<std::string>& report_classes();

// A segmentation run: 6 logged steps (iterations 2..12, one loss_mix null,
// a loss key "loss_<x>", lr per parameter group), 3 evaluations (the last:
// mIoU 0.6543, accuracy 0.812, per-class IoU 0.8, 0.4, absent, 0.2).
void write_seg_run(const std::string& dir, bool with_evals = true);

// report_images/iter_<iter>/ of a segmentation run: `n` samples of image,
// ground truth, prediction and pseudo-label (8x8 PNGs), an image grid
// "samples", and index.json.
void write_seg_pictures(const std::string& run, int iter, int n = 2);

// report_images/iter_<iter>/ of a domain generalization run: confusion
// matrices of env0_in (test domain) and env1_out, 3 classes.
void write_dg_pictures(const std::string& run, int iter);

// A grid sweep of 4 runs (optimizer.lr 1e-3 and 1e-4, train.seed 1 and 2)
// named run0..run3 with sweep.json ("lr-search") and sweep_overrides.json;
// run3 has not finished.
void write_lr_sweep(const std::string& dir);

}  // namespace uda::test
