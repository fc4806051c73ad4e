// RandAugment (Cubuk et al., 2020) as the official CSG code uses it
// (github.com/NVlabs/CSG utils/augmentations.py: augment_list and
// RandAugment): N operations drawn uniformly with replacement from 14, each
// at magnitude val = M / 30 * (max - min) + min, with the PIL semantics of
// each operation on uint8 RGB (random sign for the signed operations,
// nearest-neighbour resampling and fill 0 for the geometric ones).
//
// For segmentation the geometric operations move the label map too (nearest,
// fill 255); the photometric ones leave it alone.
#pragma once

#include "data/pipeline/rng.h"
#include "data/sample.h"

#include <string>
#include <vector>

namespace uda::data::pipeline {

enum class RandAugOp {
  Identity, AutoContrast, Equalize, Rotate, Posterize, Solarize, Color, Contrast, Brightness,
  Sharpness, ShearX, ShearY, TranslateXabs, TranslateYabs,
};
inline constexpr int kNumRandAugOps = 14;

const char* randaug_op_name(RandAugOp op);

// Applies one operation at value `v` (already mapped from the magnitude).
// `label` may be null or empty.
void apply_randaug_op(RandAugOp op, double v, Image& img, Image* label, Rng& rng);

// The CSG magnitude mapping of `op` for M in [0, 30].
double randaug_value(RandAugOp op, int magnitude);

// N random operations at magnitude M (0 <= M <= 30). Returns the ops applied.
std::vector<RandAugOp> rand_augment(Image& img, Image* label, int n, int magnitude, Rng& rng);

}  // namespace uda::data::pipeline
