#include "data/image_io.h"

#include "core/error.h"
#include "core/fs.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace uda::data {

namespace {

struct MemoryReader {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

void read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<MemoryReader*>(png_get_io_ptr(png));
  if (r->pos + n > r->size) png_error(png, "truncated PNG data");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

struct PngError {
  char message[256] = "";
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof e->message, "%s", msg);
  png_longjmp(png, 1);
}
void on_png_warning(png_structp, png_const_charp) {}

// All C++ objects live in the caller; this function only uses plain data
// across setjmp, so a longjmp out of libpng skips no destructor.
bool decode_png_into(const uint8_t* data, size_t size, PngMode mode, RawImage* out, PngError* err) {
  MemoryReader reader{data, size, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &reader, read_from_memory);
  png_read_info(png, info);
  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (mode == PngMode::kRgb) {
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (depth == 16) png_set_strip_16(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (depth < 8) png_set_packing(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
  } else {
    if (depth < 8) png_set_packing(png);  // palette indices / grey levels as bytes
    if (depth == 16) png_set_swap(png);   // PNG is big-endian; we want native uint16
  }
  png_read_update_info(png, info);
  out->width = static_cast<int>(png_get_image_width(png, info));
  out->height = static_cast<int>(png_get_image_height(png, info));
  out->channels = png_get_channels(png, info);
  out->bit_depth = png_get_bit_depth(png, info) == 16 ? 16 : 8;
  size_t rowbytes = png_get_rowbytes(png, info);
  uint8_t* base;
  if (out->bit_depth == 16) {
    out->data16.resize(rowbytes / 2 * static_cast<size_t>(out->height));
    base = reinterpret_cast<uint8_t*>(out->data16.data());
  } else {
    out->data8.resize(rowbytes * static_cast<size_t>(out->height));
    base = out->data8.data();
  }
  for (int y = 0; y < out->height; ++y) png_read_row(png, base + rowbytes * static_cast<size_t>(y), nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

struct MemoryWriter {
  std::vector<uint8_t>* out;
};
void write_to_memory(png_structp png, png_bytep data, png_size_t n) {
  auto* w = static_cast<MemoryWriter*>(png_get_io_ptr(png));
  w->out->insert(w->out->end(), data, data + n);
}
void flush_memory(png_structp) {}

bool encode_png_into(int height, int width, int channels, int depth, const uint8_t* pixels, int level,
                     std::vector<uint8_t>* out, PngError* err) {
  MemoryWriter writer{out};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  static const int kColor[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_write_fn(png, &writer, write_to_memory, flush_memory);
  png_set_compression_level(png, level);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), depth,
               kColor[channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (depth == 16) png_set_swap(png);
  size_t rowbytes = static_cast<size_t>(width) * static_cast<size_t>(channels) * static_cast<size_t>(depth / 8);
  for (int y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(pixels + rowbytes * static_cast<size_t>(y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

RawImage decode_png(const uint8_t* data, size_t size, PngMode mode, const std::string& where) {
  RawImage out;
  PngError err;
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0)
    throw UserError("not a PNG file", where, "check the file; re-download or re-extract the dataset");
  if (!decode_png_into(data, size, mode, &out, &err))
    throw UserError(std::string("unreadable PNG: ") + err.message, where,
                    "the file is damaged; re-download or re-extract the dataset");
  return out;
}

RawImage read_png(const std::string& path, PngMode mode) {
  if (!std::filesystem::is_regular_file(path))
    throw UserError("image file not found", path, "check the --src directory layout (see `uda convert --help`)");
  std::string bytes = fs_util::read_file(path);
  return decode_png(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), mode, path);
}

namespace {
struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
};
void on_jpeg_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

bool decode_jpeg_into(const uint8_t* data, size_t size, Image* out, JpegError* err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = on_jpeg_error;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  out->channels = 3;
  out->pixels.resize(out->size());
  size_t stride = static_cast<size_t>(out->width) * 3;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}
}  // namespace

Image read_jpeg(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw UserError("image file not found", path, "check the --src directory layout");
  std::string bytes = fs_util::read_file(path);
  Image out;
  JpegError err;
  if (!decode_jpeg_into(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out, &err))
    throw UserError(std::string("unreadable JPEG: ") + err.message, path,
                    "the file is damaged; re-download or re-extract the dataset");
  return out;
}

Image to_image(RawImage&& raw) {
  Image img;
  img.height = raw.height;
  img.width = raw.width;
  img.channels = raw.channels;
  img.pixels = std::move(raw.data8);
  return img;
}

Image read_rgb_image(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".png") return to_image(read_png(path, PngMode::kRgb));
  if (ext == ".jpg" || ext == ".jpeg") return read_jpeg(path);
  throw UserError("unsupported image type \"" + ext + "\"", path, "use PNG or JPEG images");
}

std::vector<uint8_t> encode_png(const Image& image, int compression_level) {
  std::vector<uint8_t> out;
  PngError err;
  if (image.channels < 1 || image.channels > 4 || image.pixels.size() != image.size())
    throw std::invalid_argument("encode_png: bad image");
  if (!encode_png_into(image.height, image.width, image.channels, 8, image.pixels.data(), compression_level, &out,
                       &err))
    throw std::runtime_error(std::string("PNG encoding failed: ") + err.message);
  return out;
}

std::vector<uint8_t> encode_png16(int height, int width, int channels, const std::vector<uint16_t>& data,
                                  int compression_level) {
  std::vector<uint8_t> out;
  PngError err;
  if (!encode_png_into(height, width, channels, 16, reinterpret_cast<const uint8_t*>(data.data()),
                       compression_level, &out, &err))
    throw std::runtime_error(std::string("PNG encoding failed: ") + err.message);
  return out;
}

namespace {
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    throw UserError("cannot write file", path, "check that the directory exists and is writable");
}
}  // namespace

void write_png(const std::string& path, const Image& image) { write_bytes(path, encode_png(image)); }

void write_png16(const std::string& path, int height, int width, int channels, const std::vector<uint16_t>& data) {
  write_bytes(path, encode_png16(height, width, channels, data));
}

}  // namespace uda::data
