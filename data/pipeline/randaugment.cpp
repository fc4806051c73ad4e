#include "data/pipeline/randaugment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

namespace uda::data::pipeline {

namespace {

struct OpRange {
  RandAugOp op;
  const char* name;
  double min, max;
};
// augment_list of CSG utils/augmentations.py, in its order.
constexpr std::array<OpRange, kNumRandAugOps> kOps{{
    {RandAugOp::Identity, "Identity", 0.0, 1.0},
    {RandAugOp::AutoContrast, "AutoContrast", 0, 1},
    {RandAugOp::Equalize, "Equalize", 0, 1},
    {RandAugOp::Rotate, "Rotate", 0, 30},
    {RandAugOp::Posterize, "Posterize", 0, 7},
    {RandAugOp::Solarize, "Solarize", 0, 256},
    {RandAugOp::Color, "Color", 0.0, 0.9},
    {RandAugOp::Contrast, "Contrast", 0.0, 0.9},
    {RandAugOp::Brightness, "Brightness", 0.0, 0.9},
    {RandAugOp::Sharpness, "Sharpness", 0.0, 0.9},
    {RandAugOp::ShearX, "ShearX", 0.0, 0.3},
    {RandAugOp::ShearY, "ShearY", 0.0, 0.3},
    {RandAugOp::TranslateXabs, "TranslateXabs", 0.0, 100},
    {RandAugOp::TranslateYabs, "TranslateYabs", 0.0, 100},
}};

inline uint8_t clip8(double v) { return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0)); }

// PIL's "L" conversion (ITU-R 601-2 luma in 16-bit fixed point).
inline int luma(const uint8_t* p) { return (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16; }

void apply_lut_per_channel(Image& img, const std::vector<std::array<uint8_t, 256>>& luts) {
  const int c = img.channels;
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = luts[i % c][img.pixels[i]];
}

std::vector<std::array<int64_t, 256>> histograms(const Image& img) {
  std::vector<std::array<int64_t, 256>> h(img.channels);
  for (auto& a : h) a.fill(0);
  for (size_t i = 0; i < img.pixels.size(); ++i) ++h[i % img.channels][img.pixels[i]];
  return h;
}

void autocontrast(Image& img) {  // PIL ImageOps.autocontrast, cutoff 0
  auto hs = histograms(img);
  std::vector<std::array<uint8_t, 256>> luts(img.channels);
  for (int ch = 0; ch < img.channels; ++ch) {
    int lo = 0, hi = 255;
    while (lo < 256 && hs[ch][lo] == 0) ++lo;
    while (hi >= 0 && hs[ch][hi] == 0) --hi;
    for (int i = 0; i < 256; ++i) {
      if (hi <= lo) {
        luts[ch][i] = static_cast<uint8_t>(i);
      } else {
        const double scale = 255.0 / (hi - lo), offset = -lo * scale;
        luts[ch][i] = static_cast<uint8_t>(std::clamp(static_cast<int>(i * scale + offset), 0, 255));
      }
    }
  }
  apply_lut_per_channel(img, luts);
}

void equalize(Image& img) {  // PIL ImageOps.equalize
  auto hs = histograms(img);
  std::vector<std::array<uint8_t, 256>> luts(img.channels);
  for (int ch = 0; ch < img.channels; ++ch) {
    std::vector<int64_t> nz;
    for (int64_t v : hs[ch])
      if (v) nz.push_back(v);
    int64_t step = 0;
    if (nz.size() > 1) {
      int64_t s = 0;
      for (int64_t v : nz) s += v;
      step = (s - nz.back()) / 255;
    }
    int64_t n = step / 2;
    for (int i = 0; i < 256; ++i) {
      luts[ch][i] = step ? static_cast<uint8_t>(std::min<int64_t>(n / step, 255)) : static_cast<uint8_t>(i);
      n += hs[ch][i];
    }
  }
  apply_lut_per_channel(img, luts);
}

// Image.blend(degenerate, img, factor): degenerate + factor * (img - degenerate).
void blend_with(Image& img, const std::vector<uint8_t>& degenerate, double factor) {
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = clip8(degenerate[i] + factor * (static_cast<int>(img.pixels[i]) - degenerate[i]));
}

// Nearest-neighbour inverse affine map with PIL's convention: output pixel
// centre (x + 0.5, y + 0.5) reads input (a x + b y + c, d x + e y + f).
void affine_nearest(Image& img, const double m[6], uint8_t fill) {
  Image out = img;
  const int c = img.channels;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      const double xo = x + 0.5, yo = y + 0.5;
      const double xi = m[0] * xo + m[1] * yo + m[2], yi = m[3] * xo + m[4] * yo + m[5];
      const int ix = static_cast<int>(std::floor(xi)), iy = static_cast<int>(std::floor(yi));
      uint8_t* dst = out.pixels.data() + (static_cast<size_t>(y) * img.width + x) * c;
      if (ix < 0 || iy < 0 || ix >= img.width || iy >= img.height) {
        std::fill(dst, dst + c, fill);
      } else {
        const uint8_t* src = img.pixels.data() + (static_cast<size_t>(iy) * img.width + ix) * c;
        std::copy(src, src + c, dst);
      }
    }
  }
  img = std::move(out);
}

void geometric(Image& img, Image* label, const double m[6]) {
  affine_nearest(img, m, 0);
  if (label && !label->pixels.empty()) affine_nearest(*label, m, kIgnoreLabel);
}

}  // namespace

const char* randaug_op_name(RandAugOp op) { return kOps[static_cast<int>(op)].name; }

double randaug_value(RandAugOp op, int magnitude) {
  const auto& r = kOps[static_cast<int>(op)];
  return magnitude / 30.0 * (r.max - r.min) + r.min;
}

void apply_randaug_op(RandAugOp op, double v, Image& img, Image* label, Rng& rng) {
  if (img.channels != 3) throw std::invalid_argument("RandAugment needs 3-channel RGB images");
  // The signed operations flip their value with probability 1/2
  // (`if random.random() > 0.5: v = -v`).
  auto signed_v = [&] { return rng.uniform() > 0.5 ? -v : v; };
  switch (op) {
    case RandAugOp::Identity:
      return;
    case RandAugOp::AutoContrast:
      if (rng.uniform() <= v) autocontrast(img);
      return;
    case RandAugOp::Equalize:
      if (rng.uniform() <= v) equalize(img);
      return;
    case RandAugOp::Rotate: {
      // PIL Image.rotate(deg): counter-clockwise about the centre (w/2, h/2).
      const double a = -signed_v() * M_PI / 180.0;
      const double cx = img.width / 2.0, cy = img.height / 2.0;
      const double m0 = std::cos(a), m1 = std::sin(a), m3 = -std::sin(a), m4 = std::cos(a);
      const double m[6] = {m0, m1, m0 * -cx + m1 * -cy + cx, m3, m4, m3 * -cx + m4 * -cy + cy};
      geometric(img, label, m);
      return;
    }
    case RandAugOp::Posterize: {
      const int bits = std::max(1, 8 - static_cast<int>(v));
      const uint8_t mask = static_cast<uint8_t>(~((1 << (8 - bits)) - 1));
      for (auto& p : img.pixels) p &= mask;
      return;
    }
    case RandAugOp::Solarize: {
      const double threshold = 256 - v;
      for (auto& p : img.pixels)
        if (p >= threshold) p = static_cast<uint8_t>(255 - p);
      return;
    }
    case RandAugOp::Color: {
      const double f = 1 + signed_v();
      std::vector<uint8_t> gray(img.pixels.size());
      for (size_t i = 0; i < img.pixels.size(); i += 3) gray[i] = gray[i + 1] = gray[i + 2] = static_cast<uint8_t>(luma(&img.pixels[i]));
      blend_with(img, gray, f);
      return;
    }
    case RandAugOp::Contrast: {
      const double f = 1 + signed_v();
      double sum = 0;
      for (size_t i = 0; i < img.pixels.size(); i += 3) sum += luma(&img.pixels[i]);
      const auto mean = static_cast<uint8_t>(static_cast<int>(sum / (img.pixels.size() / 3) + 0.5));
      blend_with(img, std::vector<uint8_t>(img.pixels.size(), mean), f);
      return;
    }
    case RandAugOp::Brightness: {
      const double f = 1 + signed_v();
      blend_with(img, std::vector<uint8_t>(img.pixels.size(), 0), f);
      return;
    }
    case RandAugOp::Sharpness: {
      // PIL ImageFilter.SMOOTH (3x3 [1 1 1; 1 5 1; 1 1 1] / 13); border pixels unchanged.
      const double f = 1 + signed_v();
      std::vector<uint8_t> smooth = img.pixels;
      const int w = img.width, h = img.height;
      for (int y = 1; y + 1 < h; ++y)
        for (int x = 1; x + 1 < w; ++x)
          for (int ch = 0; ch < 3; ++ch) {
            int s = 0;
            for (int dy = -1; dy <= 1; ++dy)
              for (int dx = -1; dx <= 1; ++dx)
                s += img.pixels[(static_cast<size_t>(y + dy) * w + x + dx) * 3 + ch] * (dx == 0 && dy == 0 ? 5 : 1);
            smooth[(static_cast<size_t>(y) * w + x) * 3 + ch] = static_cast<uint8_t>((s + 6) / 13);
          }
      blend_with(img, smooth, f);
      return;
    }
    case RandAugOp::ShearX: {
      const double s = signed_v();
      const double m[6] = {1, s, 0, 0, 1, 0};
      geometric(img, label, m);
      return;
    }
    case RandAugOp::ShearY: {
      const double s = signed_v();
      const double m[6] = {1, 0, 0, s, 1, 0};
      geometric(img, label, m);
      return;
    }
    case RandAugOp::TranslateXabs: {
      const double t = signed_v();
      const double m[6] = {1, 0, t, 0, 1, 0};
      geometric(img, label, m);
      return;
    }
    case RandAugOp::TranslateYabs: {
      const double t = signed_v();
      const double m[6] = {1, 0, 0, 0, 1, t};
      geometric(img, label, m);
      return;
    }
  }
}

std::vector<RandAugOp> rand_augment(Image& img, Image* label, int n, int magnitude, Rng& rng) {
  if (magnitude < 0 || magnitude > 30) throw std::invalid_argument("RandAugment magnitude must be in [0, 30]");
  // random.choices(augment_list, k=n): all choices first, then the ops.
  std::vector<RandAugOp> ops;
  for (int i = 0; i < n; ++i) ops.push_back(kOps[rng.below(kNumRandAugOps)].op);
  for (RandAugOp op : ops) apply_randaug_op(op, randaug_value(op, magnitude), img, label, rng);
  return ops;
}

}  // namespace uda::data::pipeline
