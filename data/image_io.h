// PNG (8 and 16 bit, via libpng) and JPEG (via libjpeg-turbo) decoding and
// PNG encoding, from files or memory.
#pragma once

#include "data/sample.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

// A decoded image with 8- or 16-bit samples, HWC.
struct RawImage {
  int height = 0, width = 0, channels = 0;
  int bit_depth = 8;              // 8 or 16
  std::vector<uint8_t> data8;     // bit_depth 8
  std::vector<uint16_t> data16;   // bit_depth 16
};

enum class PngMode {
  kRgb,     // colour image: palette, grey and alpha converted to 8-bit RGB
  kValues,  // label map: the stored values as they are (palette indices, grey
            // levels, or every channel of an RGB(A) image), 8 or 16 bit
};

// `where` names the source in error messages (UserError).
RawImage decode_png(const uint8_t* data, size_t size, PngMode mode, const std::string& where);
RawImage read_png(const std::string& path, PngMode mode);
// 8-bit RGB from a JPEG file.
Image read_jpeg(const std::string& path);
// By extension: .png / .jpg / .jpeg; 8-bit RGB.
Image read_rgb_image(const std::string& path);

// Encodes an 8-bit image (1, 3 or 4 channels) or 16-bit samples as PNG.
std::vector<uint8_t> encode_png(const Image& image, int compression_level = 1);
std::vector<uint8_t> encode_png16(int height, int width, int channels, const std::vector<uint16_t>& data,
                                  int compression_level = 1);
void write_png(const std::string& path, const Image& image);
void write_png16(const std::string& path, int height, int width, int channels, const std::vector<uint16_t>& data);

// Takes an 8-bit RawImage as an Image (no copy semantics beyond a move).
Image to_image(RawImage&& raw);

}  // namespace uda::data
