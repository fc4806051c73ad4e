// Sources (Pillow 9.4.0):
//   src/PIL/Image.py       Image.rotate: the inverse affine matrix
//   src/libImaging/Geometry.c
//                          ImagingTransformAffine -> ImagingGenericTransform
//                          (any filter but NEAREST), affine_transform (pixel
//                          centres), bilinear_filter8 with BILINEAR_HEAD /
//                          BILINEAR_BODY (the sampling), FLOOR / XCLIP / YCLIP
// Compiled with -ffp-contract=off (data/CMakeLists.txt): a fused multiply-add
// would round differently from Pillow's separate multiply and add.
#include "data/convert/pil_rotate.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace uda::data {

namespace {

// Python's round(x, ndigits) for floats: the correctly rounded decimal
// string (CPython's double_round uses _Py_dg_dtoa mode 3; glibc's printf
// rounds exactly too) read back with correct rounding.
double python_round(double x, int ndigits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", ndigits, x);
  return std::strtod(buf, nullptr);
}

// Python's float % (CPython float_rem): the result takes the divisor's sign.
double python_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r != 0.0) {
    if ((m < 0) != (r < 0)) r += m;
  } else {
    r = std::copysign(0.0, m);
  }
  return r;
}

// Geometry.c FLOOR(v): ((v) < 0.0 ? ((int)floor(v)) : ((int)(v))).
int pil_floor(double v) { return v < 0.0 ? static_cast<int>(std::floor(v)) : static_cast<int>(v); }

int clip(int v, int size) { return v < 0 ? 0 : (v < size ? v : size - 1); }  // XCLIP / YCLIP

}  // namespace

Image pil_rotate(const Image& image, double degrees) {
  if (image.pixels.size() != image.size()) throw std::invalid_argument("pil_rotate: image buffer size mismatch");
  const int w = image.width, h = image.height, channels = image.channels;
  // Image.rotate: angle % 360.0, then -math.radians(angle) (CPython:
  // x * (pi / 180.0)), matrix entries rounded to 15 decimals, rotation about
  // (w / 2.0, h / 2.0) without translation. Its shortcuts for 0, 90, 180 and
  // 270 degrees give the same pixels as this general path (tested).
  constexpr double kPi = 3.14159265358979323846;
  const double angle = -(python_mod(degrees, 360.0) * (kPi / 180.0));
  const double a = python_round(std::cos(angle), 15), b = python_round(std::sin(angle), 15);
  const double d = python_round(-std::sin(angle), 15), e = python_round(std::cos(angle), 15);
  const double cx = w / 2.0, cy = h / 2.0;
  // matrix[2], matrix[5] = transform(-cx, -cy, matrix) with c = f = 0.0,
  // evaluated left to right as a * x + b * y + c; then += the centre.
  double c = a * -cx + b * -cy + 0.0;
  double f = d * -cx + e * -cy + 0.0;
  c += cx;
  f += cy;

  Image out{h, w, channels, std::vector<uint8_t>(image.size(), 0)};
  const uint8_t* src = image.pixels.data();
  const size_t row = static_cast<size_t>(w) * channels;
  for (int oy = 0; oy < h; ++oy)
    for (int ox = 0; ox < w; ++ox) {
      // affine_transform: the output pixel's centre.
      const double px = ox + 0.5, py = oy + 0.5;
      double xin = a * px + b * py + c;
      double yin = d * px + e * py + f;
      // BILINEAR_HEAD: outside the source -> not written (the output image
      // was created with fillcolor 0).
      if (xin < 0.0 || xin >= w || yin < 0.0 || yin >= h) continue;
      xin -= 0.5;
      yin -= 0.5;
      const int x = pil_floor(xin), y = pil_floor(yin);
      const double dx = xin - x, dy = yin - y;
      // BILINEAR_BODY: the first row and both columns clamped to the image,
      // the second row only when inside (else it repeats the first).
      const uint8_t* r0 = src + static_cast<size_t>(clip(y, h)) * row;
      const uint8_t* r1 = (y + 1 >= 0 && y + 1 < h) ? src + static_cast<size_t>(y + 1) * row : nullptr;
      const size_t x0 = static_cast<size_t>(clip(x, w)) * channels, x1 = static_cast<size_t>(clip(x + 1, w)) * channels;
      uint8_t* o = out.pixels.data() + static_cast<size_t>(oy) * row + static_cast<size_t>(ox) * channels;
      for (int ch = 0; ch < channels; ++ch) {
        // BILINEAR(v, a, b, d): v = a + (b - a) * d, the difference in int.
        double v1 = r0[x0 + ch] + (r0[x1 + ch] - r0[x0 + ch]) * dx;
        double v2 = r1 ? r1[x0 + ch] + (r1[x1 + ch] - r1[x0 + ch]) * dx : v1;
        v1 = v1 + (v2 - v1) * dy;
        o[ch] = static_cast<uint8_t>(static_cast<int>(v1));  // (UINT8)v1: truncation
      }
    }
  return out;
}

}  // namespace uda::data
