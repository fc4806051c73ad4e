// DACS's ClassMix and strong augmentation of the mixed images.
//
// Official sources: DAFormer mmseg/models/utils/dacs_transforms.py (from
// github.com/vikolss/DACS) and the kornia 0.5.x functions it calls
// (augmentation ColorJitter, enhance.adjust_*, color.hsv, filters.GaussianBlur2d).
//
// Randomness comes from explicit generators (TrainContext::sample_generator /
// step_generator), so a sample's augmentation does not depend on the rank
// count; the distributions are those of the official code, the draws are not
// (numpy/Python/torch global RNG there).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

namespace uda::algos {

// ---- ClassMix --------------------------------------------------------------

// Chooses (n + n % 2) / 2 of the n entries of `classes` (a 1-D int64 tensor,
// e.g. torch.unique of the labels) without replacement, as
// np.random.choice(n, (n + n % 2) / 2, replace=False) in get_class_masks.
// With exclude_ignore, entries equal to 255 are removed first (uda option;
// the official code keeps 255, so the ignore region can be pasted).
at::Tensor choose_mix_classes(const at::Tensor& classes, at::Generator& gen, bool exclude_ignore = false);

// 1 where `label` ([H, W] or [1, H, W], int64) is one of `classes`, else 0:
// a [1, H, W] int64 mask (generate_class_mask).
at::Tensor class_mix_mask(const at::Tensor& label, const at::Tensor& classes);

// one_mix: mask * a + (1 - mask) * b, broadcasting the [1, H, W] mask.
at::Tensor one_mix(const at::Tensor& mask, const at::Tensor& a, const at::Tensor& b);

// ---- colour jitter (kornia 0.5.x ColorJitter, p = 1) ----------------------

struct ColorJitterParams {
  double brightness = 1.0;  // factor in [max(0, 1 - s), 1 + s]; applied additively as (factor - 1)
  double contrast = 1.0;    // factor in [max(0, 1 - s), 1 + s]; multiplies the image
  double saturation = 1.0;  // factor in [max(0, 1 - s), 1 + s]; multiplies HSV saturation
  double hue = 0.0;         // in [-s, s]; shifts HSV hue by hue * 2 pi
  std::array<int64_t, 4> order{0, 1, 2, 3};  // randperm(4): 0 brightness, 1 contrast, 2 saturation, 3 hue
};

ColorJitterParams sample_color_jitter(double strength, at::Generator& gen);

// Image in [0, 1], [N, 3, H, W]; every step clamps to [0, 1] as kornia.
at::Tensor apply_color_jitter(const at::Tensor& image01, const ColorJitterParams& p);

// kornia.color rgb_to_hsv / hsv_to_rgb: hue in radians [0, 2 pi).
at::Tensor rgb_to_hsv(const at::Tensor& rgb, double eps = 1e-6);
at::Tensor hsv_to_rgb(const at::Tensor& hsv);

// ---- Gaussian blur ---------------------------------------------------------

// DACS kernel size for a side of n pixels: ceil(0.1 n) when odd, else
// ceil(0.1 n) - 1 (floor(ceil(0.1 n) - 0.5 + ceil(0.1 n) % 2)).
int64_t blur_kernel_size(int64_t side);

// kornia GaussianBlur2d((ky, kx), (sigma, sigma)), border 'reflect'.
at::Tensor gaussian_blur(const at::Tensor& image, int64_t ky, int64_t kx, double sigma);

// ---- strong_transform ------------------------------------------------------

// What one DACS step decides for its mixed images.
struct StrongAugmentation {
  bool color_jitter = false;  // the step's uniform draw u > color_jitter_probability (official: u > p)
  bool blur = false;          // the step's uniform draw > 0.5 (when blur is enabled)
  double strength = 0.2;      // color_jitter_strength
  std::array<double, 3> mean{123.675, 116.28, 103.53};
  std::array<double, 3> std{58.395, 57.12, 57.375};
};

// Colour jitter (denormalise to [0, 1], jitter, renormalise) then blur
// (sigma ~ U[0.15, 1.15]) of one normalised mixed image [1, 3, H, W], with
// that sample's generator.
at::Tensor strong_augment(const at::Tensor& image, const StrongAugmentation& a, at::Generator& gen);

}  // namespace uda::algos
