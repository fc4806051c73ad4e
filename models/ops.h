// Small tensor functions around the networks: input normalisation in both
// official conventions, ADVENT's entropy map, and the bilinear resize.
#pragma once

#include <array>

#include <ATen/core/Tensor.h>

namespace uda::models {

// DAFormer img_norm_cfg (configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py):
// RGB, (image - mean) / std.
inline constexpr std::array<double, 3> kImageNetMeanRGB{123.675, 116.28, 103.53};
inline constexpr std::array<double, 3> kImageNetStdRGB{58.395, 57.12, 57.375};
// ADVENT IMG_MEAN (advent/domain_adaptation/config.py), BGR order.
inline constexpr std::array<double, 3> kAdventMeanBGR{104.00698793, 116.66876762, 122.67891434};

// images: (N, 3, H, W) float RGB in 0..255. Returns (images - mean) / std.
at::Tensor normalize_rgb(const at::Tensor& images, const std::array<double, 3>& mean = kImageNetMeanRGB,
                         const std::array<double, 3>& std = kImageNetStdRGB);
// ADVENT BaseDataset.preprocess: RGB -> BGR, minus IMG_MEAN (BGR), no std.
at::Tensor advent_preprocess(const at::Tensor& images_rgb, const std::array<double, 3>& mean_bgr = kAdventMeanBGR);

// ADVENT advent/utils/func.py prob_2_entropy: -p * log2(p + 1e-30) / log2(C),
// per class (N, C, H, W).
at::Tensor prob_2_entropy(const at::Tensor& prob);

// Bilinear resize of an NCHW map to (h, w).
at::Tensor resize_bilinear(const at::Tensor& x, int64_t h, int64_t w, bool align_corners);

}  // namespace uda::models
