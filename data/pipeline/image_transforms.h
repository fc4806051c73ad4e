// Geometric CPU transforms on HWC uint8 images and label maps, with the
// semantics of mmseg 0.x / mmcv 1.x (the versions DAFormer pins):
// mmseg/datasets/pipelines/transforms.py (Resize, RandomCrop, RandomFlip,
// Pad) and mmcv/image/geometric.py (imresize, imrescale, rescale_size).
#pragma once

#include "data/pipeline/rng.h"
#include "data/sample.h"

#include <array>

namespace uda::data::pipeline {

enum class Interp { Linear, Nearest };

// cv::resize to (width, height); INTER_LINEAR for images and INTER_NEAREST
// for labels is what mmcv.imresize uses ('bilinear' / 'nearest').
Image resize(const Image& img, int width, int height, Interp interp);

// mmcv.rescale_size with keep_ratio: the scale factor fitting (w, h) into
// the box whose long edge is max(scale) and short edge min(scale), then
// new size = int(w * f + 0.5), int(h * f + 0.5). Returns {width, height}.
std::array<int, 2> rescale_size(int width, int height, std::array<int, 2> scale);

// mmseg Resize with ratio_range: scale = (int(s0 * r), int(s1 * r)) with
// r ~ U[lo, hi) (np.random.random_sample() * (hi - lo) + lo).
std::array<int, 2> random_ratio_scale(std::array<int, 2> img_scale, std::array<double, 2> ratio_range, Rng& rng);

struct CropBox {
  int y1 = 0, y2 = 0, x1 = 0, x2 = 0;
};

// mmseg RandomCrop.get_crop_bbox: offsets drawn uniformly in
// [0, max(H - crop_h, 0)] and [0, max(W - crop_w, 0)], height first.
CropBox random_crop_box(int height, int width, std::array<int, 2> crop_hw, Rng& rng);

// mmseg RandomCrop with cat_max_ratio: the first box is drawn, then up to 10
// times the box is accepted when the cropped label has more than one valid
// (non-255) class and the largest class covers less than cat_max_ratio of the
// valid pixels, otherwise a new box is drawn; the box drawn after the 10th
// failure is used unchecked. cat_max_ratio >= 1 disables the check.
CropBox cat_max_ratio_crop_box(const Image& label, std::array<int, 2> crop_hw, double cat_max_ratio, Rng& rng);

// True when `label` cropped to `box` passes the cat_max_ratio test above.
bool crop_passes_cat_max_ratio(const Image& label, const CropBox& box, double cat_max_ratio);

// The region [y1, y2) x [x1, x2), clamped to the image (as numpy slicing).
Image crop(const Image& img, const CropBox& box);

// Mirror left-right in place.
void hflip(Image& img);

// Pad at the bottom and right to (height, width) with `value` (mmcv.impad
// with shape: image 0, label 255). Larger images are left as they are.
Image pad_to(const Image& img, int height, int width, uint8_t value);

// Number of pixels of `cls` in a label map.
int64_t count_class(const Image& label, int cls);

}  // namespace uda::data::pipeline
