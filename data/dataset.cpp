#include "data/dataset.h"

#include "core/error.h"
#include "data/checksum.h"
#include "data/class_stats_io.h"
#include "data/shard_file.h"

#include <algorithm>
#include <filesystem>

namespace uda::data {

std::shared_ptr<Dataset> Dataset::open(const std::string& dir, const OpenOptions& options) {
  Manifest m = load_manifest(dir);
  ClassStats stats = load_class_stats(dir + "/" + kClassStatsFile);
  if (stats.num_images() != static_cast<size_t>(m.num_samples) || stats.class_names != m.class_names)
    throw UserError("class_stats.json does not match manifest.json", dir,
                    "re-run the `uda convert` command that produced this dataset");
  return std::shared_ptr<Dataset>(new Dataset(dir, std::move(m), std::move(stats), options));
}

Dataset::Dataset(std::string dir, Manifest manifest, ClassStats stats, OpenOptions options)
    : dir_(std::move(dir)), manifest_(std::move(manifest)), stats_(std::move(stats)), options_(options) {
  int64_t begin = 0;
  for (const auto& s : manifest_.shards) {
    shard_begin_.push_back(begin);
    begin += s.num_samples;
    shard_mutex_.push_back(std::make_unique<std::mutex>());
  }
  shards_.resize(manifest_.shards.size());
}

Dataset::~Dataset() = default;

const ShardFile& Dataset::shard(size_t k) const {
  std::lock_guard<std::mutex> lock(*shard_mutex_[k]);
  if (shards_[k]) return *shards_[k];
  const ShardInfo& info = manifest_.shards[k];
  std::string path = dir_ + "/" + info.file;
  const std::string fix = "the shard is missing, truncated or altered; delete it and manifest.json, then re-run the "
                          "same `uda convert` command (it rewrites only the missing shards)";
  std::error_code ec;
  auto bytes = std::filesystem::file_size(path, ec);
  if (ec) throw UserError("dataset shard is missing", path, fix);
  if (static_cast<int64_t>(bytes) != info.bytes)
    throw UserError("dataset shard has " + std::to_string(bytes) + " bytes, the manifest says " +
                        std::to_string(info.bytes),
                    path, fix);
  if (options_.verify_checksums) {
    std::string actual = hex64(xxh64_file(path));
    if (actual != info.xxh64)
      throw UserError("dataset shard checksum mismatch (xxh64 " + actual + ", manifest " + info.xxh64 + ")", path, fix);
  }
  auto file = std::make_shared<const ShardFile>(path);
  if (static_cast<int64_t>(file->size()) != info.num_samples || file->first_index() != shard_begin_[k])
    throw UserError("dataset shard does not hold the samples the manifest lists", path, fix);
  if (manifest_.channels_recorded)
    for (size_t i = 0; i < file->size(); ++i)
      if (file->channels(i) != manifest_.channels)
        throw UserError("image " + std::to_string(i) + " of the shard has " + std::to_string(file->channels(i)) +
                            " channels, the manifest says " + std::to_string(manifest_.channels),
                        path, fix);
  shards_[k] = file;
  return *shards_[k];
}

Sample Dataset::read(size_t index) const {
  if (index >= size())
    throw std::out_of_range("Dataset::read: index " + std::to_string(index) + " >= " + std::to_string(size()));
  auto it = std::upper_bound(shard_begin_.begin(), shard_begin_.end(), static_cast<int64_t>(index));
  size_t k = static_cast<size_t>(it - shard_begin_.begin()) - 1;
  return shard(k).read_sample(index - static_cast<size_t>(shard_begin_[k]));
}

void Dataset::verify_all() const {
  for (size_t k = 0; k < shards_.size(); ++k) shard(k);
}

}  // namespace uda::data
