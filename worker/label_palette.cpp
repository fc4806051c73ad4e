#include "worker/label_palette.h"

#include <algorithm>
#include <cmath>

namespace uda::worker {

namespace {

const uint8_t kCityscapes[19][3] = {{128, 64, 128}, {244, 35, 232}, {70, 70, 70},   {102, 102, 156}, {190, 153, 153},
                                    {153, 153, 153}, {250, 170, 30}, {220, 220, 0},  {107, 142, 35},  {152, 251, 152},
                                    {70, 130, 180},  {220, 20, 60},  {255, 0, 0},    {0, 0, 142},     {0, 0, 70},
                                    {0, 60, 100},    {0, 80, 100},   {0, 0, 230},    {119, 11, 32}};

// Fully saturated, mid-light hue h (degrees) as 8-bit RGB.
std::array<uint8_t, 3> hue(double h) {
  auto channel = [h](double n) {
    const double k = std::fmod(n + h / 30, 12.0);
    return static_cast<uint8_t>(std::lround(255 * (0.5 - 0.5 * std::max(-1.0, std::min({k - 3, 9 - k, 1.0})))));
  };
  return {channel(0), channel(8), channel(4)};
}

}  // namespace

std::array<uint8_t, 3> label_colour(int64_t c) {
  if (c >= 0 && c < 19) return {kCityscapes[c][0], kCityscapes[c][1], kCityscapes[c][2]};
  if (c == 255 || c < 0) return {0, 0, 0};
  return hue(static_cast<double>(c) * 137.508);
}

data::Image colourise(const int64_t* labels, int height, int width) {
  data::Image img{height, width, 3, {}};
  img.pixels.resize(img.size());
  for (size_t i = 0; i < static_cast<size_t>(height) * width; ++i) {
    const auto col = label_colour(labels[i]);
    std::copy(col.begin(), col.end(), &img.pixels[3 * i]);
  }
  return img;
}

}  // namespace uda::worker
