// The per-sample CPU augmentation pipeline of one domain, in mmseg's order:
// Resize (optionally by a random ratio) -> RandomCrop (cat_max_ratio) ->
// RandomFlip -> [RandAugment] -> Normalize -> Pad. DAFormer's GTA->Cityscapes
// training pipeline (configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py)
// is TransformConfig::daformer_gta_train(); its PhotoMetricDistortion is
// commented out there (DACS applies colour jitter on the GPU instead).
#pragma once

#include "data/pipeline/rng.h"
#include "data/sample.h"

#include <array>
#include <optional>

namespace uda::data::pipeline {

struct TransformConfig {
  // mmseg Resize(img_scale, keep_ratio=True): {0, 0} keeps the stored size.
  std::array<int, 2> img_scale{0, 0};
  // mmseg Resize ratio_range: the scale is img_scale times r ~ U[lo, hi).
  std::optional<std::array<double, 2>> ratio_range;
  // False for evaluation: labels stay at their stored (full) resolution.
  bool resize_label = true;
  // RandomCrop and Pad size {height, width}; {0, 0}: no crop, no pad.
  std::array<int, 2> crop_size{0, 0};
  double cat_max_ratio = 1.0;  // >= 1 disables the retry
  double flip_prob = 0.0;
  int randaug_n = 0;  // RandAugment operations per sample (0 = off)
  int randaug_m = 10; // RandAugment magnitude in [0, 30]
  // Normalize: (pixel - mean) / std per RGB channel.
  std::array<double, 3> mean{0, 0, 0};
  std::array<double, 3> std{1, 1, 1};

  // DAFormer's presets (uda_gta_to_cityscapes_512x512.py).
  static TransformConfig daformer_gta_train();
  static TransformConfig daformer_cityscapes_train();
  static TransformConfig daformer_cityscapes_test();

  // Output size {height, width} of an image of the given stored size
  // after this pipeline when it has no crop (crop_size when it has one).
  bool fixed_output_size() const { return crop_size[0] > 0 && crop_size[1] > 0; }
};

struct Transformed {
  Image image;  // HWC uint8, before normalisation and padding
  Image label;  // HW uint8 (empty for classification)
};

// Runs every random step on one decoded sample, drawing from `rng` in a fixed
// order (resize ratio, crop boxes, flip, RandAugment), so that the result is a
// function of the sample and the stream key only.
Transformed apply_transforms(const Image& image, const Image& label, const TransformConfig& cfg, Rng& rng);

// Precomputed (v - mean) / std for every uint8 value, in the float32
// arithmetic of mmcv.imnormalize (subtract the float32 mean, multiply by the
// float32 of 1 / std).
class Normalizer {
 public:
  explicit Normalizer(const TransformConfig& cfg);
  // Writes img as float CHW with `channels` planes into dst of {height,
  // width} (>= the image), with 0 in the padded bottom/right region: DAFormer
  // pads after Normalize with pad_val 0, so padding is 0 in normalised units.
  // Plane c uses mean[c] and std[c]; a grey image fills every plane.
  void write_chw(const Image& img, float* dst, int channels, int height, int width) const;

 private:
  float lut_[3][256];
};

// Copies a label map into dst of {height, width}, padding with 255.
void write_label(const Image& label, uint8_t* dst, int height, int width);

}  // namespace uda::data::pipeline
