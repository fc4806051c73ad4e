#include "data/manifest.h"

#include "core/error.h"
#include "core/fs.h"

#include <cstdio>
#include <filesystem>

namespace uda::data {

using nlohmann::json;

std::string task_name(Task t) { return t == Task::kSegmentation ? "segmentation" : "classification"; }

std::string encoding_name(Encoding e) {
  switch (e) {
    case Encoding::kRaw: return "raw";
    case Encoding::kDeflate: return "deflate";
    case Encoding::kPng: return "png";
  }
  return "raw";
}

Task parse_task(const std::string& name, const std::string& where) {
  if (name == "segmentation") return Task::kSegmentation;
  if (name == "classification") return Task::kClassification;
  throw UserError("unknown task \"" + name + "\"", where, "use segmentation or classification");
}

Encoding parse_encoding(const std::string& name, const std::string& where) {
  if (name == "raw") return Encoding::kRaw;
  if (name == "deflate") return Encoding::kDeflate;
  if (name == "png") return Encoding::kPng;
  throw UserError("unknown image encoding \"" + name + "\"", where, "use raw, deflate or png");
}

std::string shard_file_name(size_t shard_index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%05zu.h5", shard_index);
  return buf;
}

json manifest_to_json(const Manifest& m) {
  json shards = json::array();
  for (const auto& s : m.shards)
    shards.push_back({{"file", s.file}, {"num_samples", s.num_samples}, {"bytes", s.bytes}, {"xxh64", s.xxh64}});
  return json{{"format", "uda-dataset"},
              {"format_version", m.format_version},
              {"task", task_name(m.task)},
              {"classes", m.class_names},
              {"domains", m.domain_names},
              {"split", m.split},
              {"channels", m.channels},
              {"encoding", encoding_name(m.encoding)},
              {"num_samples", m.num_samples},
              {"shards", shards},
              {"class_stats", "class_stats.json"},
              {"provenance", m.provenance}};
}

Manifest manifest_from_json(const json& j, const std::string& where) {
  Manifest m;
  try {
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version > kFormatVersion)
      throw UserError("dataset format version " + std::to_string(m.format_version) + " is newer than this uda (" +
                          std::to_string(kFormatVersion) + ")",
                      where, "update uda, or convert the dataset again with this version");
    m.task = parse_task(j.at("task").get<std::string>(), where);
    m.class_names = j.at("classes").get<std::vector<std::string>>();
    m.domain_names = j.at("domains").get<std::vector<std::string>>();
    m.split = j.value("split", "");
    m.channels_recorded = j.contains("channels");
    m.channels = m.channels_recorded ? j.at("channels").get<int>() : 3;
    m.encoding = parse_encoding(j.at("encoding").get<std::string>(), where);
    m.num_samples = j.at("num_samples").get<int64_t>();
    for (const auto& s : j.at("shards"))
      m.shards.push_back({s.at("file").get<std::string>(), s.at("num_samples").get<int64_t>(),
                          s.at("bytes").get<int64_t>(), s.at("xxh64").get<std::string>()});
    m.provenance = j.value("provenance", json::object());
  } catch (const json::exception& e) {
    throw UserError(std::string("malformed dataset manifest: ") + e.what(), where,
                    "re-run the `uda convert` command that produced this dataset");
  }
  if (m.channels < 1 || m.channels > 3)
    throw UserError("manifest channels must be 1, 2 or 3, not " + std::to_string(m.channels), where,
                    "re-run the `uda convert` command that produced this dataset");
  int64_t total = 0;
  for (const auto& s : m.shards) total += s.num_samples;
  if (total != m.num_samples)
    throw UserError("manifest shard sample counts do not add up to num_samples", where,
                    "re-run the `uda convert` command that produced this dataset");
  return m;
}

Manifest load_manifest(const std::string& dir) {
  std::string path = dir + "/" + kManifestFile;
  if (!std::filesystem::is_directory(dir))
    throw UserError("dataset directory does not exist", dir, "convert a dataset first with `uda convert`");
  if (!std::filesystem::exists(path))
    throw UserError("no manifest.json: not a converted dataset, or its conversion did not finish", dir,
                    "run (or re-run, to resume) `uda convert ... --out " + dir + "`");
  json j;
  try {
    j = json::parse(fs_util::read_file(path));
  } catch (const json::exception& e) {
    throw UserError(std::string("manifest is not valid JSON: ") + e.what(), path,
                    "re-run the `uda convert` command that produced this dataset");
  }
  return manifest_from_json(j, path);
}

void save_manifest(const Manifest& m, const std::string& dir) {
  fs_util::write_file_atomic(dir + "/" + kManifestFile, manifest_to_json(m).dump(2) + "\n");
}

}  // namespace uda::data
