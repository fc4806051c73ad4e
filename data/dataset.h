// A converted dataset directory opened for reading: manifest, class
// statistics and samples. This is what the loader and the workers use.
//
//   auto ds = uda::data::Dataset::open("/data/gta5");
//   const ClassStats& stats = ds->class_stats();
//   Sample s = ds->read(17);   // thread-safe
#pragma once

#include "data/class_stats.h"
#include "data/manifest.h"
#include "data/sample.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace uda::data {

class ShardFile;

struct OpenOptions {
  // Hash every shard (xxHash64) the first time it is opened and compare with
  // the manifest. The file size is always checked, and HDF5 structure errors
  // are always reported; turn this off to skip reading each shard once in full.
  bool verify_checksums = true;
};

class Dataset : public SampleSource {
 public:
  // UserError when the directory is missing, unfinished (no manifest.json) or
  // malformed. Shards are opened (and verified) lazily on first access.
  static std::shared_ptr<Dataset> open(const std::string& dir, const OpenOptions& options = {});
  ~Dataset() override;

  size_t size() const override { return static_cast<size_t>(manifest_.num_samples); }
  int channels() const override { return manifest_.channels; }
  // Thread-safe. UserError naming the shard when it is corrupt.
  Sample read(size_t index) const override;

  const std::string& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  Task task() const { return manifest_.task; }
  size_t num_classes() const { return manifest_.class_names.size(); }
  const std::vector<std::string>& class_names() const { return manifest_.class_names; }
  const std::vector<std::string>& domain_names() const { return manifest_.domain_names; }
  // From class_stats.json, read at open.
  const ClassStats& class_stats() const { return stats_; }
  // Per-sample metadata without reading pixels (from the class statistics).
  const std::string& name(size_t index) const { return stats_.image_names.at(index); }
  int domain(size_t index) const { return stats_.image_domain.at(index); }
  // Opens and verifies every shard now (e.g. `uda stats --verify`).
  void verify_all() const;

 private:
  Dataset(std::string dir, Manifest manifest, ClassStats stats, OpenOptions options);
  const ShardFile& shard(size_t shard_index) const;

  std::string dir_;
  Manifest manifest_;
  ClassStats stats_;
  OpenOptions options_;
  std::vector<int64_t> shard_begin_;  // first dataset index of each shard
  mutable std::vector<std::unique_ptr<std::mutex>> shard_mutex_;
  mutable std::vector<std::shared_ptr<const ShardFile>> shards_;
};

}  // namespace uda::data
