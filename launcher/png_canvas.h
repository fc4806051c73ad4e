// A small RGB raster for the plots of `uda report`: filled rectangles,
// 1-pixel Bresenham lines with a square brush, a plot frame with gridlines,
// and PNG output through libpng. It draws no text: labels, axis ranges and
// legends go into the HTML page next to the image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::cli {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

// "#rrggbb", as CSS writes colours.
std::string to_hex(Rgb c);

// A rectangle of the canvas (pixels, inclusive) onto which a data range is
// mapped: x_min at `left`, x_max at `right`, y_min at `bottom`, y_max at `top`.
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;

  int px(double x) const;
  int py(double y) const;
};

class PngCanvas {
 public:
  PngCanvas(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb pixel(int x, int y) const;

  // Drawing outside the canvas is clipped.
  void set_pixel(int x, int y, Rgb c);
  // The rectangle with corners (x0, y0) and (x1, y1), both included, in either order.
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);
  // A straight line from (x0, y0) to (x1, y1), both ends included, drawn with
  // a `thickness` × `thickness` square brush.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1);

  // Light gridlines at every multiple of the steps inside the frame's data
  // range (a step <= 0 draws none), then the frame's border.
  void grid(const PlotFrame& f, double x_step, double y_step, Rgb grid_colour, Rgb axis_colour);
  // The frame's border only (drawn last, so that data does not cover it).
  void border(const PlotFrame& f, Rgb c);

  // 8-bit RGB PNG; UserError naming `path` when it cannot be written.
  void write_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;  // row-major, 3 bytes per pixel
};

}  // namespace uda::cli
