// Geometric operations on images, with OpenCV's cv::resize: INTER_LINEAR and
// INTER_NEAREST are exactly what mmcv.imresize ('bilinear' / 'nearest') and
// therefore DAFormer's pipelines use.
#pragma once

#include "data/sample.h"

namespace uda::data {

enum class Interp { kBilinear, kNearest };

Image resize(const Image& image, int width, int height, Interp interp);

}  // namespace uda::data
