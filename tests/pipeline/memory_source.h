// An in-memory SampleSource for the pipeline tests: deterministic synthetic
// images and label maps, optional failure on chosen indices.
#pragma once

#include "data/sample.h"

#include <set>
#include <stdexcept>
#include <string>

namespace uda::test {

class MemorySource : public data::SampleSource {
 public:
  MemorySource(size_t n, int height, int width, int classes = 5) : n_(n), h_(height), w_(width), classes_(classes) {}
  size_t size() const override { return n_; }
  data::Sample read(size_t i) const override {
    if (fail_.count(i)) throw std::runtime_error("corrupt chunk in shard-00000.h5");
    data::Sample s;
    s.index = static_cast<int64_t>(i);
    s.name = "img" + std::to_string(i);
    s.domain = static_cast<int>(i % 2);
    s.image.height = s.label.height = h_;
    s.image.width = s.label.width = w_;
    s.image.channels = 3;
    s.label.channels = 1;
    s.image.pixels.resize(s.image.size());
    s.label.pixels.resize(s.label.size());
    for (int y = 0; y < h_; ++y)
      for (int x = 0; x < w_; ++x) {
        for (int c = 0; c < 3; ++c)
          s.image.pixels[(y * w_ + x) * 3 + c] = static_cast<uint8_t>((x * 7 + y * 3 + c * 50 + i * 11) & 255);
        // Vertical bands of classes, a rare class blob, some ignore pixels.
        uint8_t l = static_cast<uint8_t>((x * classes_) / w_);
        if (x > w_ - w_ / 8 && y < h_ / 4) l = static_cast<uint8_t>(classes_);  // the rare class
        if ((x + y + static_cast<int>(i)) % 17 == 0) l = data::kIgnoreLabel;
        s.label.pixels[y * w_ + x] = l;
      }
    return s;
  }
  std::set<size_t> fail_;

 private:
  size_t n_;
  int h_, w_, classes_;
};

}  // namespace uda::test
