// Colours of label maps in pictures (`uda infer`, the report images): the
// Cityscapes train-id palette (cityscapesScripts labels.py) for classes
// 0..18, hues a golden angle apart for further classes, black for 255
// (ignored).
#pragma once

#include "data/sample.h"

#include <array>
#include <cstdint>

namespace uda::worker {

std::array<uint8_t, 3> label_colour(int64_t c);

// An 8-bit RGB image of a row-major label map of height * width class ids.
data::Image colourise(const int64_t* labels, int height, int width);

}  // namespace uda::worker
