#include "storage/checkpoint_files.h"

#include "core/error.h"
#include "core/fs.h"
#include "storage/checkpoint_shard.h"
#include "storage/digest.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

namespace uda::storage {

namespace fs = std::filesystem;

namespace {

int64_t tensor_numel(const std::vector<int64_t>& shape, const std::string& name, const std::string& where) {
  // Bounded so that a corrupt manifest cannot request an absurd allocation.
  unsigned __int128 n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw UserError("tensor " + name + " has a negative dimension", where, "the manifest is corrupt");
    n *= static_cast<uint64_t>(d);
    if (n > (static_cast<unsigned __int128>(1) << 44))
      throw UserError("tensor " + name + " is implausibly large", where, "the manifest is corrupt");
  }
  return static_cast<int64_t>(n);
}

void check_bytes(const NamedTensor& t) {
  if (t.data.bytes.size() != static_cast<size_t>(t.data.numel()) * dtype_size(t.data.dtype))
    throw std::invalid_argument("checkpoint tensor '" + t.name + "': " + std::to_string(t.data.bytes.size()) +
                                " bytes do not match its dtype and shape");
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool parse_iteration(const std::string& name, int64_t* it) {
  if (name.size() <= 5 || name.compare(0, 5, "iter_") != 0) return false;
  for (size_t i = 5; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  *it = std::stoll(name.substr(5));
  return true;
}

// Removes a checkpoint so that a half-deleted one can never look complete:
// the manifest goes first (and that is made durable), then the rest.
void remove_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (fs::remove(fs::path(dir) / kManifestName, ec)) fs_util::fsync_path(dir);
  fs::remove_all(dir, ec);
  if (ec) spdlog::warn("checkpoint: could not remove {}: {}", dir, ec.message());
}

}  // namespace

const TensorData* LoadedCheckpoint::find(const std::string& name) const {
  for (const auto& t : replicated)
    if (t.name == name) return &t.data;
  return nullptr;
}

const TensorData* LoadedCheckpoint::find_rank_local(int old_rank, const std::string& name) const {
  auto it = rank_local.find(old_rank);
  if (it == rank_local.end()) return nullptr;
  for (const auto& t : it->second)
    if (t.name == name) return &t.data;
  return nullptr;
}

std::string checkpoints_root(const std::string& run_dir) { return (fs::path(run_dir) / "checkpoints").string(); }

std::string checkpoint_dir_name(int64_t iteration) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "iter_%08lld", static_cast<long long>(iteration));
  return buf;
}

std::string checkpoint_dir(const std::string& run_dir, int64_t iteration) {
  return (fs::path(checkpoints_root(run_dir)) / checkpoint_dir_name(iteration)).string();
}

bool has_manifest(const std::string& dir) { return fs::exists(fs::path(dir) / kManifestName); }

std::vector<std::vector<SliceRange>> plan_slices(const std::vector<NamedTensor>& replicated, int world) {
  using u128 = unsigned __int128;
  u128 total = 0;
  for (const auto& t : replicated) total += t.data.bytes.size();
  std::vector<u128> cuts(static_cast<size_t>(world) + 1);
  for (int r = 0; r <= world; ++r) cuts[static_cast<size_t>(r)] = total * static_cast<u128>(r) / static_cast<u128>(world);
  std::vector<std::vector<SliceRange>> plan;
  u128 offset = 0;
  for (const auto& t : replicated) {
    int64_t n = t.data.numel();
    u128 e = dtype_size(t.data.dtype);
    // First element at or after global byte position c.
    auto boundary = [&](u128 c) -> int64_t {
      if (c <= offset) return 0;
      u128 k = (c - offset + e - 1) / e;
      return k >= static_cast<u128>(n) ? n : static_cast<int64_t>(k);
    };
    std::vector<SliceRange> ranges(static_cast<size_t>(world));
    for (int r = 0; r < world; ++r)
      ranges[static_cast<size_t>(r)] = {boundary(cuts[static_cast<size_t>(r)]), boundary(cuts[static_cast<size_t>(r) + 1])};
    ranges[static_cast<size_t>(world) - 1].end = n;
    plan.push_back(std::move(ranges));
    offset += t.data.bytes.size();
  }
  return plan;
}

bool prepare_checkpoint_dir(const std::string& run_dir, int64_t iteration) {
  std::string dir = checkpoint_dir(run_dir, iteration);
  if (has_manifest(dir)) return false;
  if (fs::exists(dir)) {
    spdlog::warn("checkpoint: removing incomplete {} left by an interrupted save", dir);
    remove_checkpoint(dir);
  }
  try {
    fs::create_directories(dir);
    fs_util::fsync_path(checkpoints_root(run_dir));
  } catch (const std::exception& e) {
    throw UserError(std::string("cannot create checkpoint directory: ") + e.what(), dir,
                    "check that the run directory is writable and the disk not full");
  }
  return true;
}

Manifest write_checkpoint_shard(const std::string& dir, const CheckpointState& state, int rank, int world) {
  std::set<std::string> names;
  for (const auto& t : state.replicated) {
    check_bytes(t);
    if (!names.insert(t.name).second) throw std::invalid_argument("checkpoint: replicated tensor '" + t.name + "' given twice");
  }
  names.clear();
  for (const auto& t : state.rank_local) {
    check_bytes(t);
    if (!names.insert(t.name).second) throw std::invalid_argument("checkpoint: rank-local entry '" + t.name + "' given twice");
  }
  Manifest part;
  part.iteration = state.iteration;
  part.world_size = world;
  part.config_hash = state.config_hash;
  std::string file = "shard-" + std::to_string(rank) + ".h5";
  ShardWriter writer((fs::path(dir) / file).string());
  auto plan = plan_slices(state.replicated, world);
  for (size_t i = 0; i < state.replicated.size(); ++i) {
    const auto& t = state.replicated[i];
    TensorRecord rec{t.name, t.data.dtype, t.data.shape, 0, {}};
    SliceRange r = plan[i][static_cast<size_t>(rank)];
    size_t e = dtype_size(t.data.dtype);
    if (r.end > r.begin) {
      const uint8_t* p = t.data.bytes.data() + static_cast<size_t>(r.begin) * e;
      size_t bytes = static_cast<size_t>(r.end - r.begin) * e;
      std::string ds = shard_dataset_name("replicated", t.name);
      writer.write(ds, t.data.dtype, p, r.end - r.begin);
      rec.slices.push_back({rank, ds, r.begin, r.end, xxh64(p, bytes)});
    }
    // The rank holding element 0 (rank 0 for empty tensors) vouches for the whole tensor.
    bool owner = t.data.numel() == 0 ? rank == 0 : r.begin == 0 && r.end > 0;
    if (owner) rec.checksum = xxh64(t.data.bytes.data(), t.data.bytes.size());
    part.tensors.push_back(std::move(rec));
  }
  for (const auto& t : state.rank_local) {
    std::string ds = shard_dataset_name("rank_local", t.name);
    writer.write(ds, t.data.dtype, t.data.bytes.data(), t.data.numel());
    part.rank_local.push_back(
        {rank, t.name, t.data.dtype, t.data.shape, rank, ds, xxh64(t.data.bytes.data(), t.data.bytes.size())});
  }
  part.shards.push_back({rank, file, writer.close()});
  return part;
}

Manifest merge_manifests(const std::vector<Manifest>& parts, const nlohmann::json& metadata) {
  if (parts.empty()) throw std::invalid_argument("merge_manifests: no parts");
  Manifest m;
  const Manifest& first = parts[0];
  m.iteration = first.iteration;
  m.world_size = static_cast<int>(parts.size());
  m.config_hash = first.config_hash;
  m.created_utc = utc_now();
  m.metadata = metadata;
  m.tensors = first.tensors;
  for (auto& t : m.tensors) {
    t.slices.clear();
    t.checksum = 0;
  }
  auto disagree = [&](const std::string& what) {
    throw UserError("ranks disagree on the checkpoint: " + what, "iteration " + std::to_string(m.iteration),
                    "every rank must save the same iteration, config and replicated tensors");
  };
  for (size_t r = 0; r < parts.size(); ++r) {
    const Manifest& p = parts[r];
    if (p.shards.size() != 1 || p.shards[0].rank != static_cast<int>(r)) disagree("shard of rank " + std::to_string(r));
    if (p.iteration != m.iteration) disagree("iteration");
    if (p.config_hash != m.config_hash) disagree("config hash");
    if (p.tensors.size() != m.tensors.size()) disagree("number of replicated tensors");
    m.shards.push_back(p.shards[0]);
    for (size_t i = 0; i < m.tensors.size(); ++i) {
      TensorRecord& t = m.tensors[i];
      const TensorRecord& q = p.tensors[i];
      if (q.name != t.name || q.dtype != t.dtype || q.shape != t.shape) disagree("replicated tensor " + t.name);
      t.slices.insert(t.slices.end(), q.slices.begin(), q.slices.end());
      bool owner = q.slices.empty() ? (r == 0 && tensor_numel(t.shape, t.name, "") == 0)
                                    : q.slices[0].begin == 0;
      if (owner) t.checksum = q.checksum;
    }
    m.rank_local.insert(m.rank_local.end(), p.rank_local.begin(), p.rank_local.end());
  }
  for (auto& t : m.tensors) {
    std::sort(t.slices.begin(), t.slices.end(), [](const SliceRecord& a, const SliceRecord& b) { return a.begin < b.begin; });
    int64_t at = 0;
    for (const auto& s : t.slices) {
      if (s.begin != at) disagree("slices of " + t.name + " do not cover it");
      at = s.end;
    }
    if (at != tensor_numel(t.shape, t.name, "")) disagree("slices of " + t.name + " do not cover it");
  }
  return m;
}

void commit_checkpoint(const std::string& run_dir, const Manifest& manifest, const CommitOptions& options) {
  std::string root = checkpoints_root(run_dir);
  std::string name = checkpoint_dir_name(manifest.iteration);
  std::string dir = (fs::path(root) / name).string();
  try {
    // write_file_atomic: temporary name, fsync, rename, fsync of the directory.
    fs_util::write_file_atomic((fs::path(dir) / kManifestName).string(), to_json(manifest).dump(1) + "\n");
  } catch (const std::exception& e) {
    throw UserError(std::string("writing the checkpoint manifest failed: ") + e.what(), dir,
                    "check free disk space; the previous checkpoint is still intact");
  }
  try {
    fs_util::write_file_atomic((fs::path(root) / "latest").string(), name + "\n");
    if (options.best) fs_util::write_file_atomic((fs::path(root) / "best").string(), name + "\n");
  } catch (const std::exception& e) {
    // The checkpoint itself is complete; loaders find it without `latest`.
    spdlog::warn("checkpoint: {} is complete but updating latest/best failed: {}", dir, e.what());
  }
  std::string best = read_pointer(run_dir, "best");
  int kept = 0;
  for (const auto& d : list_checkpoint_dirs(run_dir)) {
    std::string base = fs::path(d).filename().string();
    bool complete = has_manifest(d);
    if (complete && (options.keep_last <= 0 || kept < options.keep_last)) {
      ++kept;
      continue;
    }
    if (base == best || base == name) continue;
    remove_checkpoint(d);
  }
}

std::string read_pointer(const std::string& run_dir, const std::string& pointer) {
  fs::path p = fs::path(checkpoints_root(run_dir)) / pointer;
  if (!fs::exists(p)) return "";
  std::string s = fs_util::read_file(p.string());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> list_checkpoint_dirs(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_root(run_dir), ec)) {
    int64_t it = 0;
    if (entry.is_directory() && parse_iteration(entry.path().filename().string(), &it))
      found.emplace_back(it, entry.path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

LoadedCheckpoint load_checkpoint(const std::string& dir) {
  auto bad = [&](const std::string& reason) -> UserError {
    return UserError("checkpoint is unusable: " + reason, dir, "");
  };
  fs::path manifest_path = fs::path(dir) / kManifestName;
  if (!fs::exists(manifest_path)) throw bad("no manifest.json (incomplete: the save did not finish)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs_util::read_file(manifest_path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("manifest.json is not valid JSON: ") + e.what());
  }
  LoadedCheckpoint out;
  out.path = dir;
  out.manifest = manifest_from_json(j, manifest_path.string());
  const Manifest& m = out.manifest;
  if (fs::path(dir).filename().string() != checkpoint_dir_name(m.iteration))
    throw bad("manifest iteration " + std::to_string(m.iteration) + " does not match the directory name");
  std::map<int, std::unique_ptr<ShardReader>> readers;
  auto reader = [&](int shard) -> const ShardReader& {
    auto it = readers.find(shard);
    if (it != readers.end()) return *it->second;
    const ShardRecord* rec = nullptr;
    for (const auto& s : m.shards)
      if (s.rank == shard) rec = &s;
    if (!rec) throw bad("manifest refers to shard " + std::to_string(shard) + " it does not list");
    fs::path p = fs::path(dir) / rec->file;
    std::error_code ec;
    uint64_t size = fs::file_size(p, ec);
    if (ec) throw bad(rec->file + " is missing");
    if (size != rec->bytes)
      throw bad(rec->file + " has " + std::to_string(size) + " bytes, the manifest says " + std::to_string(rec->bytes) +
                " (truncated or overwritten)");
    return *readers.emplace(shard, std::make_unique<ShardReader>(p.string())).first->second;
  };
  try {
    for (const auto& t : m.tensors) {
      NamedTensor nt{t.name, {}};
      nt.data.dtype = t.dtype;
      nt.data.shape = t.shape;
      int64_t n = tensor_numel(t.shape, t.name, dir);
      size_t e = dtype_size(t.dtype);
      nt.data.bytes.resize(static_cast<size_t>(n) * e);
      int64_t at = 0;
      for (const auto& s : t.slices) {
        if (s.begin != at || s.end <= s.begin || s.end > n) throw bad("slices of " + t.name + " do not cover it");
        uint8_t* p = nt.data.bytes.data() + static_cast<size_t>(s.begin) * e;
        reader(s.shard).read(s.dataset, t.dtype, s.end - s.begin, p);
        if (xxh64(p, static_cast<size_t>(s.end - s.begin) * e) != s.checksum)
          throw bad("checksum mismatch in " + t.name + " (shard " + std::to_string(s.shard) + ")");
        at = s.end;
      }
      if (at != n) throw bad("slices of " + t.name + " do not cover it");
      if (xxh64(nt.data.bytes.data(), nt.data.bytes.size()) != t.checksum) throw bad("checksum mismatch in " + t.name);
      out.replicated.push_back(std::move(nt));
    }
    for (const auto& r : m.rank_local) {
      NamedTensor nt{r.name, {}};
      nt.data.dtype = r.dtype;
      nt.data.shape = r.shape;
      int64_t n = tensor_numel(r.shape, r.name, dir);
      nt.data.bytes.resize(static_cast<size_t>(n) * dtype_size(r.dtype));
      reader(r.shard).read(r.dataset, r.dtype, n, nt.data.bytes.data());
      if (xxh64(nt.data.bytes.data(), nt.data.bytes.size()) != r.checksum)
        throw bad("checksum mismatch in rank-local " + r.name + " of rank " + std::to_string(r.rank));
      out.rank_local[r.rank].push_back(std::move(nt));
    }
  } catch (const UserError& e) {
    if (e.what_part().rfind("checkpoint is unusable", 0) == 0) throw;
    throw bad(e.what_part() + (e.where().empty() ? "" : " (" + fs::path(e.where()).filename().string() + ")"));
  }
  return out;
}

std::optional<LoadedCheckpoint> load_latest_checkpoint(const std::string& run_dir) {
  auto dirs = list_checkpoint_dirs(run_dir);
  if (dirs.empty()) return std::nullopt;
  std::string reasons;
  for (const auto& d : dirs) {
    try {
      return load_checkpoint(d);
    } catch (const UserError& e) {
      spdlog::warn("{}; falling back to the previous checkpoint", e.line());
      reasons += "\n  " + e.line();
    }
  }
  throw UserError("no usable checkpoint", checkpoints_root(run_dir),
                  "every checkpoint is incomplete or corrupt:" + reasons);
}

}  // namespace uda::storage
