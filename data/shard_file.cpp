#include "data/shard_file.h"

#include "core/error.h"
#include "data/image_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace uda::data {

namespace {
std::string repair_hint(const std::string& path) {
  return "the shard is truncated or altered; delete " + path +
         " and the dataset's manifest.json, then re-run the same `uda convert` command (it rewrites only the missing "
         "shards)";
}

bool pread_all(int fd, uint8_t* out, size_t n, int64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, out, n, offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    out += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return true;
}
}  // namespace

void ShardFile::corrupt(const std::string& detail) const {
  throw UserError("corrupt dataset shard (" + detail + ")", path_, repair_hint(path_));
}

ShardFile::ShardFile(const std::string& path) : path_(path) {
  std::lock_guard<std::mutex> lock(h5::mutex());
  h5::silence_errors();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) corrupt("HDF5 cannot open it");
  file_ = h5::Id(f, H5Fclose);
  try {
    task_ = parse_task(h5::read_string_attr(f, "task"), path);
    encoding_ = parse_encoding(h5::read_string_attr(f, "encoding"), path);
    first_index_ = h5::read_i64_attr(f, "first_index");
    names_ = h5::read_strings(f, "names");
    const size_t n = names_.size();
    domains_ = h5::read_i32(f, "domains");
    sizes_ = h5::read_i32(f, "sizes");
    std::vector<hsize_t> dims;
    auto pixels = h5::read_i64(f, "class_pixels", &dims);
    if (domains_.size() != n || sizes_.size() != 3 * n || dims.size() != 2 || dims[0] != n)
      throw std::runtime_error("per-sample arrays disagree in length");
    class_pixels_.resize(n);
    for (size_t i = 0; i < n; ++i)
      class_pixels_[i].assign(pixels.begin() + static_cast<std::ptrdiff_t>(i * dims[1]),
                              pixels.begin() + static_cast<std::ptrdiff_t>((i + 1) * dims[1]));
    if (task_ == Task::kClassification) {
      class_ids_ = h5::read_i64(f, "class_ids");
      if (class_ids_.size() != n) throw std::runtime_error("class_ids length");
    }
    // Locate every contiguous image so reads need no HDF5 call (and no lock).
    auto locate = [&](const char* group, std::vector<Blob>* blobs) {
      blobs->resize(n);
      if (encoding_ == Encoding::kDeflate) return;
      for (size_t i = 0; i < n; ++i) {
        std::string key = std::string(group) + "/" + std::to_string(i);
        h5::Id ds(h5::check_id(H5Dopen2(f, key.c_str(), H5P_DEFAULT), "missing image dataset"), H5Dclose);
        haddr_t off = H5Dget_offset(ds.get());
        if (off == HADDR_UNDEF) throw std::runtime_error("image dataset without storage");
        (*blobs)[i] = {static_cast<int64_t>(off), static_cast<int64_t>(H5Dget_storage_size(ds.get()))};
      }
    };
    locate("images", &image_blobs_);
    if (task_ == Task::kSegmentation) locate("labels", &label_blobs_);
  } catch (const UserError&) {
    file_.reset();  // while holding the lock
    throw;
  } catch (const std::exception& e) {
    file_.reset();
    corrupt(e.what());
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw UserError("cannot open shard for reading", path, "check the file permissions");
}

ShardFile::~ShardFile() {
  if (fd_ >= 0) ::close(fd_);
  std::lock_guard<std::mutex> lock(h5::mutex());
  file_.reset();
}

Image ShardFile::read_image(const char* group, size_t local, int channels, const Blob& blob) const {
  Image img;
  img.height = sizes_[3 * local];
  img.width = sizes_[3 * local + 1];
  img.channels = channels;
  if (encoding_ == Encoding::kRaw) {
    if (blob.bytes != static_cast<int64_t>(img.size())) corrupt("image " + std::to_string(local) + " has a wrong size");
    img.pixels.resize(img.size());
    if (!pread_all(fd_, img.pixels.data(), img.size(), blob.offset)) corrupt("short read");
    return img;
  }
  if (encoding_ == Encoding::kPng) {
    std::vector<uint8_t> bytes(static_cast<size_t>(blob.bytes));
    if (!pread_all(fd_, bytes.data(), bytes.size(), blob.offset)) corrupt("short read");
    // Decoding runs outside every lock. The stored channels come back as
    // they were written (grey, the two ColoredMNIST channels, or RGB).
    RawImage raw = decode_png(bytes.data(), bytes.size(), PngMode::kValues, path_);
    if (raw.height != img.height || raw.width != img.width || raw.channels != channels || raw.bit_depth != 8)
      corrupt("image " + std::to_string(local) + " decodes to a wrong size");
    return to_image(std::move(raw));
  }
  img.pixels.resize(img.size());
  std::lock_guard<std::mutex> lock(h5::mutex());
  std::string key = std::string(group) + "/" + std::to_string(local);
  hid_t ds = H5Dopen2(file_.get(), key.c_str(), H5P_DEFAULT);
  if (ds < 0) corrupt("missing " + key);
  h5::Id guard(ds, H5Dclose);
  if (H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, img.pixels.data()) < 0)
    corrupt("cannot read " + key);
  return img;
}

Sample ShardFile::read_sample(size_t local) const {
  if (local >= size()) throw std::out_of_range("ShardFile::read_sample");
  Sample s;
  s.index = first_index_ + static_cast<int64_t>(local);
  s.name = names_[local];
  s.domain = domains_[local];
  s.image = read_image("images", local, sizes_[3 * local + 2], image_blobs_[local]);
  if (task_ == Task::kSegmentation)
    s.label = read_image("labels", local, 1, label_blobs_[local]);
  else
    s.class_label = class_ids_[local];
  return s;
}

}  // namespace uda::data
