// Projected gradient ascent on the classification loss (Madry et al.'s L-inf
// PGD) as DIAL's official code runs it (matanle51/DIAL 275c7e0 dial.py
// dial_loss, distance "linf_ce" :43-50): from x + start, `steps` times
//   x <- x + step_size * sign(grad_x CE(f(x), y)),
//   x <- min(max(x, x_nat - eps), x_nat + eps),  x <- clamp(x, 0, 1)
// in pixel units ([0, 1]). uda's images are normalised, x = (255 p - mean) / std
// per channel, so eps, the step and the box are scaled per channel
// (`scale` = 255 / std, `lo` = -mean / std, `hi` = (255 - mean) / std).
// The loss is the SUM of the rows' cross-entropies: each row's gradient is
// then its own (the official mean scales every row by 1/N, the same sign),
// so a sample's attack does not depend on the batch it is in.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace uda::algos::adversarial {

struct PgdOptions {
  double epsilon = 0.3;    // pixel units
  double step_size = 0.01; // pixel units
  int64_t steps = 40;
  at::Tensor scale, lo, hi;  // [1, C, 1, 1]: normalised units per pixel unit, the box
};

// Sets scale, lo and hi of `o` for images normalised as x = (255 p − mean) /
// std per channel (channel i uses mean[i % 3] and std[i % 3], as the loaders
// do for 1- and 2-plane images), on `device`.
void set_normalization(PgdOptions& o, const std::vector<double>& mean, const std::vector<double>& std,
                       int64_t channels, c10::Device device);

// `logits_of` evaluates the network (in the mode the caller chose; DIAL:
// eval); `start` is the random start, already in normalised units. Returns
// the attacked images, detached.
at::Tensor pgd_attack(const std::function<at::Tensor(const at::Tensor&)>& logits_of, const at::Tensor& x,
                      const at::Tensor& labels, const at::Tensor& start, const PgdOptions& options);

}  // namespace uda::algos::adversarial
