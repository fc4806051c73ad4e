// Rare Class Sampling probabilities (DAFormer, Hoyer et al. 2022, eq. 6):
// p_c = softmax((1 - f_c) / T) over the classes that occur in the dataset.
#pragma once

#include "data/class_stats.h"

#include <vector>

namespace uda::data {

// Indexed by class; 0 for classes with no pixel at all. Computed in float32
// as mmseg/datasets/uda_dataset.py get_rcs_class_probs does (counts summed
// over all images, freq = count / total, softmax of (1 - freq) / T), so the
// values match the official ones to float32 rounding. T > 0.
std::vector<double> rcs_class_probs(const ClassStats& stats, double temperature);
// Same, from per-class pixel totals.
std::vector<double> rcs_class_probs(const std::vector<int64_t>& class_pixels, double temperature);

}  // namespace uda::data
