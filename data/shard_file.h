// Read access to one shard file: its per-sample metadata, read at open, and
// the samples themselves. Safe for concurrent read_sample() calls.
#pragma once

#include "data/hdf5_util.h"
#include "data/manifest.h"
#include "data/sample.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

class ShardFile {
 public:
  // Opens `path`; any HDF5 or layout error becomes a UserError naming the
  // shard and the fix (the file is truncated or altered).
  explicit ShardFile(const std::string& path);
  ~ShardFile();
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  size_t size() const { return names_.size(); }
  Task task() const { return task_; }
  Encoding encoding() const { return encoding_; }
  int64_t first_index() const { return first_index_; }
  const std::string& path() const { return path_; }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<int32_t>& domains() const { return domains_; }
  const std::vector<int64_t>& class_ids() const { return class_ids_; }
  // [size()][num_classes] pixel counts on the full-resolution labels.
  const std::vector<std::vector<int64_t>>& class_pixels() const { return class_pixels_; }
  // Stored image size (height, width, channels) of sample i.
  int height(size_t i) const { return sizes_[3 * i]; }
  int width(size_t i) const { return sizes_[3 * i + 1]; }
  int channels(size_t i) const { return sizes_[3 * i + 2]; }

  // Sample `local` of this shard; `index` is stored in Sample::index.
  Sample read_sample(size_t local) const;

 private:
  struct Blob {
    int64_t offset = -1;  // file offset of contiguous bytes, -1 when not pread-able
    int64_t bytes = 0;
  };
  Image read_image(const char* group, size_t local, int channels, const Blob& blob) const;
  [[noreturn]] void corrupt(const std::string& detail) const;

  std::string path_;
  h5::Id file_;
  int fd_ = -1;
  Task task_ = Task::kSegmentation;
  Encoding encoding_ = Encoding::kRaw;
  int64_t first_index_ = 0;
  std::vector<std::string> names_;
  std::vector<int32_t> domains_, sizes_;
  std::vector<int64_t> class_ids_;
  std::vector<std::vector<int64_t>> class_pixels_;
  std::vector<Blob> image_blobs_, label_blobs_;
};

}  // namespace uda::data
