#include "data/convert/conversion.h"

#include "core/error.h"
#include "core/fs.h"
#include "data/checksum.h"
#include "data/class_stats_io.h"
#include "data/convert/progress.h"
#include "data/shard_file.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

namespace uda::data {

namespace fs = std::filesystem;
using nlohmann::json;

std::pair<int, int> parse_size(const std::string& text, const std::string& option) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || (x != 'x' && x != 'X') || w <= 0 || h <= 0)
    throw UserError("invalid size \"" + text + "\"", option, "write it as WIDTHxHEIGHT, e.g. 1280x720");
  return {w, h};
}

namespace {

constexpr const char* kConversionFile = "conversion.json";  // what is being written, for resumption

void claim_directory(const std::string& out_dir, const json& identity) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw UserError("cannot create the output directory: " + ec.message(), out_dir, "choose a writable --out");
  std::string path = out_dir + "/" + kConversionFile;
  if (fs::exists(path)) {
    json existing;
    try {
      existing = json::parse(fs_util::read_file(path));
    } catch (const json::exception&) {
    }
    if (existing != identity)
      throw UserError("the output directory holds a different conversion (other format, source or options)", out_dir,
                      "use another --out, or delete the directory to start over");
    return;
  }
  bool has_other = false;
  for (const auto& e : fs::directory_iterator(out_dir)) has_other = has_other || e.path().filename() != kConversionFile;
  if (has_other)
    throw UserError("the output directory is not empty and holds no uda conversion", out_dir,
                    "choose an empty or new --out directory");
  fs_util::write_file_atomic(path, identity.dump(2) + "\n");
}

// Reads back the finished shards: checksums and statistics.
void finish(const ConversionPlan& plan, const std::string& out_dir, const RunSettings& settings, size_t num_shards) {
  Manifest m;
  m.task = plan.task;
  m.class_names = plan.class_names;
  m.domain_names = plan.domain_names;
  m.split = plan.split;
  m.channels = plan.channels;
  m.encoding = settings.encoding;
  m.provenance = plan.provenance;
  ClassStats stats;
  stats.class_names = plan.class_names;
  stats.domain_names = plan.domain_names;
  for (size_t k = 0; k < num_shards; ++k) {
    std::string file = shard_file_name(k);
    std::string path = out_dir + "/" + file;
    ShardFile shard(path);
    ShardInfo info{file, static_cast<int64_t>(shard.size()), static_cast<int64_t>(fs::file_size(path)),
                   hex64(xxh64_file(path))};
    m.shards.push_back(info);
    m.num_samples += info.num_samples;
    for (size_t i = 0; i < shard.size(); ++i) {
      stats.per_image.push_back(shard.class_pixels()[i]);
      stats.image_names.push_back(shard.names()[i]);
      stats.image_domain.push_back(shard.domains()[i]);
    }
  }
  if (static_cast<size_t>(m.num_samples) != plan.num_items)
    throw UserError("the shards hold " + std::to_string(m.num_samples) + " samples, expected " +
                        std::to_string(plan.num_items),
                    out_dir, "delete the directory and convert again");
  save_class_stats(stats, out_dir + "/" + kClassStatsFile);
  save_manifest(m, out_dir);  // last: its presence marks the dataset complete
}

}  // namespace

size_t run_conversion(const ConversionPlan& plan, const std::string& out_dir, const RunSettings& settings) {
  if (plan.num_items == 0)
    throw UserError("no samples found to convert", plan.provenance.value("source", std::string()),
                    "check --src and the directory layout of the format (see docs/FORMATS.md)");
  if (settings.shard_size == 0) throw UserError("--shard-size must be positive", "command line", "e.g. 1000");
  json identity{{"provenance", plan.provenance},
                {"shard_size", settings.shard_size},
                {"encoding", encoding_name(settings.encoding)},
                {"num_items", plan.num_items}};
  claim_directory(out_dir, identity);
  if (fs::exists(out_dir + "/" + kManifestFile)) {
    spdlog::info("{}: already complete", out_dir);
    return 0;
  }
  for (const auto& e : fs::directory_iterator(out_dir))
    if (e.path().extension() == ".tmp") fs::remove(e.path());  // an interrupted shard write

  const size_t num_shards = (plan.num_items + settings.shard_size - 1) / settings.shard_size;
  std::vector<size_t> missing;
  for (size_t k = 0; k < num_shards; ++k)
    if (!fs::exists(out_dir + "/" + shard_file_name(k))) missing.push_back(k);
  if (missing.size() < num_shards)
    spdlog::info("{}: resuming, {} of {} shards already written", out_dir, num_shards - missing.size(), num_shards);

  // Items of the missing shards in order; a shard is written by the thread
  // that produces its last item, so items of one shard run in parallel.
  std::vector<size_t> items;
  for (size_t k : missing)
    for (size_t i = k * settings.shard_size; i < std::min(plan.num_items, (k + 1) * settings.shard_size); ++i)
      items.push_back(i);
  std::vector<std::vector<ShardSample>> slots(num_shards);
  std::vector<std::atomic<size_t>> remaining(num_shards);
  for (size_t k : missing) {
    size_t n = std::min(plan.num_items, (k + 1) * settings.shard_size) - k * settings.shard_size;
    slots[k].resize(n);
    remaining[k] = n;
  }

  Progress progress(settings.label.empty() ? out_dir : settings.label, static_cast<int64_t>(items.size()),
                    settings.progress);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  ShardSpec spec;
  spec.task = plan.task;
  spec.encoding = settings.encoding;
  spec.num_classes = plan.class_names.size();
  auto worker = [&] {
    try {
      for (size_t j; !failed && (j = next++) < items.size();) {
        size_t i = items[j];
        size_t k = i / settings.shard_size;
        ShardSample s = plan.produce(i);
        s.sample.index = static_cast<int64_t>(i);
        if (s.class_pixels.size() != spec.num_classes) throw std::logic_error("converter: class_pixels size");
        if (s.sample.image.channels != plan.channels) throw std::logic_error("converter: image channels");
        slots[k][i - k * settings.shard_size] = std::move(s);
        progress.add();
        if (--remaining[k] == 0) {
          ShardSpec shard_spec = spec;
          shard_spec.first_index = static_cast<int64_t>(k * settings.shard_size);
          write_shard(out_dir + "/" + shard_file_name(k), slots[k], shard_spec);
          std::vector<ShardSample>().swap(slots[k]);
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  int jobs = std::max(1, settings.jobs);
  std::vector<std::thread> threads;
  for (int t = 1; t < jobs; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  progress.finish();
  finish(plan, out_dir, settings, num_shards);
  return missing.size();
}

}  // namespace uda::data
