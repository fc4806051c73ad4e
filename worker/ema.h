// Exponential moving average of a student network into a teacher, as the
// DACS/DAFormer teacher (mmseg/models/uda/dacs.py, _update_ema):
//   alpha_t = min(1 - 1/(t + 1), alpha)
//   teacher = alpha_t * teacher + (1 - alpha_t) * student
// Parameters only by default (as the official code); buffers optionally.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace uda::worker {

struct EmaOptions {
  double alpha = 0.99;
  bool include_buffers = false;
};

// The effective momentum at iteration `iter` (0-based).
double ema_alpha(double alpha, int64_t iter);

// Scaling the momentum to a different global batch while keeping the decay
// per sample seen: alpha' = alpha^(B'/B) (docs/SCALING.md).
double ema_alpha_for_batch(double alpha, double reference_batch, double batch);

// teacher <- a * teacher + (1 - a) * student, element-wise, for each pair.
void ema_update(const std::vector<at::Tensor>& teacher, const std::vector<at::Tensor>& student, double a);

}  // namespace uda::worker
