#include "data/image_ops.h"

#include <opencv2/imgproc.hpp>

#include <stdexcept>

namespace uda::data {

namespace {
cv::Mat wrap(const Image& image) {
  return cv::Mat(image.height, image.width, CV_8UC(image.channels), const_cast<uint8_t*>(image.pixels.data()));
}
Image from_mat(const cv::Mat& m, int channels) {
  Image out;
  out.height = m.rows;
  out.width = m.cols;
  out.channels = channels;
  out.pixels.assign(m.data, m.data + out.size());
  return out;
}
}  // namespace

Image resize(const Image& image, int width, int height, Interp interp) {
  if (width <= 0 || height <= 0) throw std::invalid_argument("resize: bad size");
  if (image.width == width && image.height == height) return image;
  cv::Mat out;
  cv::resize(wrap(image), out, cv::Size(width, height), 0, 0,
             interp == Interp::kBilinear ? cv::INTER_LINEAR : cv::INTER_NEAREST);
  return from_mat(out, image.channels);
}

}  // namespace uda::data
