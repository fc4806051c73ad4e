// One decoded sample of a dataset, as the loader and the converters see it.
// Torch-free: the worker turns batches into tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

// An 8-bit image in HWC layout (RGB for colour images).
struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels

  size_t size() const { return static_cast<size_t>(height) * width * channels; }
};

inline constexpr uint8_t kIgnoreLabel = 255;

struct Sample {
  int64_t index = -1;        // position in the dataset
  std::string name;          // e.g. the source file stem
  int domain = 0;            // index into the dataset's domain list
  Image image;
  Image label;               // segmentation: HxWx1 train ids, 255 = ignore; empty otherwise
  int64_t class_label = -1;  // classification: the class id; -1 otherwise
};

// Anything that yields samples by index (a converted dataset on disk, an
// in-memory set in tests). Implementations must allow concurrent read() calls.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual size_t size() const = 0;
  virtual Sample read(size_t index) const = 0;
  // Image planes of the set (1 grey, 2 as ColoredMNIST, 3 RGB): the planes
  // of the loader's batches. Grey images of a 3-plane set are repeated.
  virtual int channels() const { return 3; }
};

}  // namespace uda::data
