#include "data/pipeline/image_transforms.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace uda::data::pipeline {

namespace {
cv::Mat wrap(const Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), const_cast<uint8_t*>(img.pixels.data()));
}
}  // namespace

Image resize(const Image& img, int width, int height, Interp interp) {
  if (width <= 0 || height <= 0) throw std::invalid_argument("resize: non-positive target size");
  if (width == img.width && height == img.height) return img;  // cv::resize copies in this case
  Image out;
  out.height = height;
  out.width = width;
  out.channels = img.channels;
  out.pixels.resize(out.size());
  cv::Mat dst(height, width, CV_8UC(img.channels), out.pixels.data());
  cv::resize(wrap(img), dst, dst.size(), 0, 0, interp == Interp::Linear ? cv::INTER_LINEAR : cv::INTER_NEAREST);
  return out;
}

std::array<int, 2> rescale_size(int width, int height, std::array<int, 2> scale) {
  const double max_long = std::max(scale[0], scale[1]);
  const double max_short = std::min(scale[0], scale[1]);
  const double f = std::min(max_long / std::max(width, height), max_short / std::min(width, height));
  return {static_cast<int>(width * f + 0.5), static_cast<int>(height * f + 0.5)};
}

std::array<int, 2> random_ratio_scale(std::array<int, 2> img_scale, std::array<double, 2> ratio_range, Rng& rng) {
  const double r = rng.uniform() * (ratio_range[1] - ratio_range[0]) + ratio_range[0];
  return {static_cast<int>(img_scale[0] * r), static_cast<int>(img_scale[1] * r)};
}

CropBox random_crop_box(int height, int width, std::array<int, 2> crop_hw, Rng& rng) {
  const int margin_h = std::max(height - crop_hw[0], 0);
  const int margin_w = std::max(width - crop_hw[1], 0);
  const int oh = static_cast<int>(rng.below(static_cast<uint64_t>(margin_h) + 1));
  const int ow = static_cast<int>(rng.below(static_cast<uint64_t>(margin_w) + 1));
  return {oh, oh + crop_hw[0], ow, ow + crop_hw[1]};
}

bool crop_passes_cat_max_ratio(const Image& label, const CropBox& box, double cat_max_ratio) {
  int64_t hist[256] = {0};
  const int y2 = std::min(box.y2, label.height), x2 = std::min(box.x2, label.width);
  for (int y = box.y1; y < y2; ++y) {
    const uint8_t* row = label.pixels.data() + static_cast<size_t>(y) * label.width;
    for (int x = box.x1; x < x2; ++x) ++hist[row[x]];
  }
  int64_t total = 0, largest = 0;
  int classes = 0;
  for (int c = 0; c < 256; ++c) {
    if (c == kIgnoreLabel || hist[c] == 0) continue;
    ++classes;
    total += hist[c];
    largest = std::max(largest, hist[c]);
  }
  return classes > 1 && static_cast<double>(largest) / static_cast<double>(total) < cat_max_ratio;
}

CropBox cat_max_ratio_crop_box(const Image& label, std::array<int, 2> crop_hw, double cat_max_ratio, Rng& rng) {
  CropBox box = random_crop_box(label.height, label.width, crop_hw, rng);
  if (cat_max_ratio < 1.0) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (crop_passes_cat_max_ratio(label, box, cat_max_ratio)) break;
      box = random_crop_box(label.height, label.width, crop_hw, rng);
    }
  }
  return box;
}

Image crop(const Image& img, const CropBox& box) {
  const int y1 = std::clamp(box.y1, 0, img.height), y2 = std::clamp(box.y2, y1, img.height);
  const int x1 = std::clamp(box.x1, 0, img.width), x2 = std::clamp(box.x2, x1, img.width);
  Image out;
  out.height = y2 - y1;
  out.width = x2 - x1;
  out.channels = img.channels;
  out.pixels.resize(out.size());
  const size_t row_bytes = static_cast<size_t>(out.width) * img.channels;
  for (int y = 0; y < out.height; ++y)
    std::memcpy(out.pixels.data() + y * row_bytes,
                img.pixels.data() + (static_cast<size_t>(y1 + y) * img.width + x1) * img.channels, row_bytes);
  return out;
}

void hflip(Image& img) {
  const int c = img.channels;
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.pixels.data() + static_cast<size_t>(y) * img.width * c;
    for (int a = 0, b = img.width - 1; a < b; ++a, --b)
      for (int k = 0; k < c; ++k) std::swap(row[a * c + k], row[b * c + k]);
  }
}

Image pad_to(const Image& img, int height, int width, uint8_t value) {
  if (img.height >= height && img.width >= width) return img;
  Image out;
  out.height = std::max(height, img.height);
  out.width = std::max(width, img.width);
  out.channels = img.channels;
  out.pixels.assign(out.size(), value);
  const size_t row_bytes = static_cast<size_t>(img.width) * img.channels;
  for (int y = 0; y < img.height; ++y)
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * out.width * img.channels,
                img.pixels.data() + y * row_bytes, row_bytes);
  return out;
}

int64_t count_class(const Image& label, int cls) {
  return std::count(label.pixels.begin(), label.pixels.end(), static_cast<uint8_t>(cls));
}

}  // namespace uda::data::pipeline
