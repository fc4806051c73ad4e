#include "launcher/png_canvas.h"

#include "core/error.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace uda::cli {

std::string to_hex(Rgb c) {
  char b[8];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
  return b;
}

int PlotFrame::px(double x) const {
  const double t = x_max > x_min ? (x - x_min) / (x_max - x_min) : 0.5;
  return left + static_cast<int>(std::lround(t * (right - left)));
}

int PlotFrame::py(double y) const {
  const double t = y_max > y_min ? (y - y_min) / (y_max - y_min) : 0.5;
  return bottom - static_cast<int>(std::lround(t * (bottom - top)));
}

PngCanvas::PngCanvas(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0) throw std::invalid_argument("PngCanvas: empty size");
  rgb_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb PngCanvas::pixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) throw std::out_of_range("PngCanvas::pixel outside the canvas");
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  return {rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void PngCanvas::set_pixel(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  rgb_[i] = c.r;
  rgb_[i + 1] = c.g;
  rgb_[i + 2] = c.b;
}

void PngCanvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  const int xa = std::max(std::min(x0, x1), 0), xb = std::min(std::max(x0, x1), width_ - 1);
  const int ya = std::max(std::min(y0, y1), 0), yb = std::min(std::max(y0, y1), height_ - 1);
  for (int y = ya; y <= yb; ++y)
    for (int x = xa; x <= xb; ++x) set_pixel(x, y, c);
}

void PngCanvas::line(int x0, int y0, int x1, int y1, Rgb c, int thickness) {
  // Bresenham over all octants; the brush is centred on each point (for even
  // thicknesses, one pixel more to the right and below).
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    fill_rect(x0 + lo, y0 + lo, x0 + hi, y0 + hi, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

namespace {

// The multiples of `step` in [lo, hi] (with a little slack for rounding).
std::vector<double> multiples(double lo, double hi, double step) {
  std::vector<double> out;
  if (!(step > 0) || !(hi >= lo)) return out;
  const double eps = step * 1e-9;
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps && out.size() < 1000; k += 1) out.push_back(k * step);
  return out;
}

}  // namespace

void PngCanvas::grid(const PlotFrame& f, double x_step, double y_step, Rgb grid_colour, Rgb axis_colour) {
  for (double x : multiples(f.x_min, f.x_max, x_step)) line(f.px(x), f.top, f.px(x), f.bottom, grid_colour);
  for (double y : multiples(f.y_min, f.y_max, y_step)) line(f.left, f.py(y), f.right, f.py(y), grid_colour);
  border(f, axis_colour);
}

void PngCanvas::border(const PlotFrame& f, Rgb c) {
  line(f.left, f.top, f.right, f.top, c);
  line(f.left, f.bottom, f.right, f.bottom, c);
  line(f.left, f.top, f.left, f.bottom, c);
  line(f.right, f.top, f.right, f.bottom, c);
}

void PngCanvas::write_png(const std::string& path) const {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width_);
  image.height = static_cast<png_uint_32>(height_);
  image.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&image, path.c_str(), 0, rgb_.data(), 0, nullptr)) {
    const std::string why = image.message;
    png_image_free(&image);
    throw UserError("cannot write PNG: " + why, path, "check that the output directory is writable");
  }
}

}  // namespace uda::cli
