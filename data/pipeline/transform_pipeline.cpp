#include "data/pipeline/transform_pipeline.h"

#include "data/pipeline/image_transforms.h"
#include "data/pipeline/randaugment.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace uda::data::pipeline {

namespace {
// img_norm_cfg of DAFormer's configs (ImageNet statistics, RGB).
constexpr std::array<double, 3> kImagenetMean{123.675, 116.28, 103.53};
constexpr std::array<double, 3> kImagenetStd{58.395, 57.12, 57.375};
}  // namespace

TransformConfig TransformConfig::daformer_gta_train() {
  TransformConfig c;
  c.img_scale = {1280, 720};
  c.crop_size = {512, 512};
  c.cat_max_ratio = 0.75;
  c.flip_prob = 0.5;
  c.mean = kImagenetMean;
  c.std = kImagenetStd;
  return c;
}

TransformConfig TransformConfig::daformer_cityscapes_train() {
  TransformConfig c = daformer_gta_train();
  c.img_scale = {1024, 512};
  return c;
}

TransformConfig TransformConfig::daformer_cityscapes_test() {
  TransformConfig c;
  c.img_scale = {1024, 512};
  c.resize_label = false;  // mIoU is computed at the label's full resolution
  c.mean = kImagenetMean;
  c.std = kImagenetStd;
  return c;
}

Transformed apply_transforms(const Image& image, const Image& label, const TransformConfig& cfg, Rng& rng) {
  const bool has_label = !label.pixels.empty();
  Transformed t;
  // Resize. The common case (stored size already equal to the target) is a
  // copy-free pass-through.
  const Image* img = &image;
  const Image* lab = &label;
  Image resized, resized_label;
  if (cfg.img_scale[0] > 0 && cfg.img_scale[1] > 0) {
    std::array<int, 2> scale = cfg.img_scale;
    if (cfg.ratio_range) scale = random_ratio_scale(cfg.img_scale, *cfg.ratio_range, rng);
    const auto wh = rescale_size(image.width, image.height, scale);
    if (wh[0] != image.width || wh[1] != image.height) {
      resized = resize(image, wh[0], wh[1], Interp::Linear);
      img = &resized;
      if (has_label && cfg.resize_label) {
        resized_label = resize(label, wh[0], wh[1], Interp::Nearest);
        lab = &resized_label;
      }
    }
  }
  if (cfg.fixed_output_size()) {
    const CropBox box = has_label ? cat_max_ratio_crop_box(*lab, cfg.crop_size, cfg.cat_max_ratio, rng)
                                  : random_crop_box(img->height, img->width, cfg.crop_size, rng);
    t.image = crop(*img, box);
    if (has_label) t.label = crop(*lab, box);
  } else {
    t.image = *img;
    if (has_label) t.label = *lab;
  }
  if (cfg.flip_prob > 0 && rng.bernoulli(cfg.flip_prob)) {
    hflip(t.image);
    if (has_label) hflip(t.label);
  }
  if (cfg.randaug_n > 0) rand_augment(t.image, has_label ? &t.label : nullptr, cfg.randaug_n, cfg.randaug_m, rng);
  return t;
}

Normalizer::Normalizer(const TransformConfig& cfg) {
  for (int c = 0; c < 3; ++c) {
    if (cfg.std[c] == 0) throw std::invalid_argument("normalize: std must be non-zero");
    const float mean = static_cast<float>(cfg.mean[c]);
    const float inv = static_cast<float>(1.0 / cfg.std[c]);
    for (int v = 0; v < 256; ++v) lut_[c][v] = (static_cast<float>(v) - mean) * inv;
  }
}

void Normalizer::write_chw(const Image& img, float* dst, int channels, int height, int width) const {
  if (channels < 1 || channels > 3) throw std::invalid_argument("normalize: 1 to 3 planes expected");
  if (img.channels != channels && img.channels != 1)
    throw std::invalid_argument("normalize: an image of " + std::to_string(img.channels) + " channels in a set of " +
                                std::to_string(channels));
  if (img.height > height || img.width > width) throw std::invalid_argument("normalize: image larger than its slot");
  const size_t plane = static_cast<size_t>(height) * width;
  for (int c = 0; c < channels; ++c) {
    const int src_c = img.channels == 1 ? 0 : c;  // grey images are repeated over the planes
    const float* lut = lut_[c];
    float* out = dst + c * plane;
    for (int y = 0; y < img.height; ++y) {
      const uint8_t* row = img.pixels.data() + static_cast<size_t>(y) * img.width * img.channels + src_c;
      float* o = out + static_cast<size_t>(y) * width;
      for (int x = 0; x < img.width; ++x) o[x] = lut[row[x * img.channels]];
      std::fill(o + img.width, o + width, 0.0f);
    }
    std::fill(out + static_cast<size_t>(img.height) * width, out + plane, 0.0f);
  }
}

void write_label(const Image& label, uint8_t* dst, int height, int width) {
  if (label.height > height || label.width > width) throw std::invalid_argument("label larger than its slot");
  std::memset(dst, kIgnoreLabel, static_cast<size_t>(height) * width);
  for (int y = 0; y < label.height; ++y)
    std::memcpy(dst + static_cast<size_t>(y) * width, label.pixels.data() + static_cast<size_t>(y) * label.width,
                static_cast<size_t>(label.width));
}

}  // namespace uda::data::pipeline
