// One HDF5 shard file of a checkpoint: flat 1-D datasets of raw tensor
// elements (the manifest holds names, shapes and checksums). float16 and
// bfloat16 are stored as 16-bit unsigned integers, bool as uint8.
// Errors are UserErrors naming the file; HDF5's own error printing is
// silenced while these run (failures are reported by us instead).
#pragma once

#include "storage/tensor_data.h"

#include <cstdint>
#include <string>

namespace uda::storage {

class ShardWriter {
 public:
  explicit ShardWriter(const std::string& path);  // creates; fails if it exists
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void write(const std::string& dataset, DType dtype, const uint8_t* data, int64_t count);
  // Closes the file and fsyncs it; returns its size in bytes.
  uint64_t close();

 private:
  std::string path_;
  int64_t file_ = -1;
};

class ShardReader {
 public:
  explicit ShardReader(const std::string& path);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  // Reads exactly `count` elements of `dataset` into `out`.
  void read(const std::string& dataset, DType dtype, int64_t count, uint8_t* out) const;

 private:
  std::string path_;
  int64_t file_ = -1;
};

// A dataset name for a tensor name (HDF5 treats '/' as a group separator).
std::string shard_dataset_name(const std::string& group, const std::string& tensor_name);

}  // namespace uda::storage
