#include "storage/checkpoint_manifest.h"

#include "core/error.h"

#include <cstdio>

namespace uda::storage {

using nlohmann::json;

std::string checksum_hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t checksum_from_hex(const std::string& s, const std::string& where) {
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw UserError("malformed checksum '" + s + "' in checkpoint manifest", where, "the manifest is corrupt");
  return std::stoull(s, nullptr, 16);
}

json to_json(const Manifest& m) {
  json shards = json::array(), tensors = json::array(), local = json::array();
  for (const auto& s : m.shards) shards.push_back({{"rank", s.rank}, {"file", s.file}, {"bytes", s.bytes}});
  for (const auto& t : m.tensors) {
    json slices = json::array();
    for (const auto& s : t.slices)
      slices.push_back({{"shard", s.shard}, {"dataset", s.dataset}, {"begin", s.begin}, {"end", s.end},
                        {"xxh64", checksum_hex(s.checksum)}});
    tensors.push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape},
                       {"xxh64", checksum_hex(t.checksum)}, {"slices", slices}});
  }
  for (const auto& r : m.rank_local)
    local.push_back({{"rank", r.rank}, {"name", r.name}, {"dtype", dtype_name(r.dtype)}, {"shape", r.shape},
                     {"shard", r.shard}, {"dataset", r.dataset}, {"xxh64", checksum_hex(r.checksum)}});
  return json{{"format", "uda-checkpoint"}, {"format_version", m.format_version}, {"iteration", m.iteration},
              {"world_size", m.world_size}, {"config_hash", m.config_hash}, {"created_utc", m.created_utc},
              {"metadata", m.metadata}, {"shards", shards}, {"tensors", tensors}, {"rank_local", local}};
}

Manifest manifest_from_json(const json& j, const std::string& where) {
  try {
    if (j.at("format") != "uda-checkpoint") throw UserError("not a uda checkpoint manifest", where, "");
    Manifest m;
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version != kCheckpointFormatVersion)
      throw UserError("checkpoint format version " + std::to_string(m.format_version) + " is not supported", where,
                      "this uda reads version " + std::to_string(kCheckpointFormatVersion));
    m.iteration = j.at("iteration").get<int64_t>();
    m.world_size = j.at("world_size").get<int>();
    m.config_hash = j.at("config_hash").get<std::string>();
    m.created_utc = j.value("created_utc", "");
    m.metadata = j.at("metadata");
    for (const auto& s : j.at("shards"))
      m.shards.push_back({s.at("rank").get<int>(), s.at("file").get<std::string>(), s.at("bytes").get<uint64_t>()});
    for (const auto& t : j.at("tensors")) {
      TensorRecord r;
      r.name = t.at("name").get<std::string>();
      r.dtype = dtype_from_name(t.at("dtype").get<std::string>());
      r.shape = t.at("shape").get<std::vector<int64_t>>();
      r.checksum = checksum_from_hex(t.at("xxh64").get<std::string>(), where);
      for (const auto& s : t.at("slices"))
        r.slices.push_back({s.at("shard").get<int>(), s.at("dataset").get<std::string>(), s.at("begin").get<int64_t>(),
                            s.at("end").get<int64_t>(), checksum_from_hex(s.at("xxh64").get<std::string>(), where)});
      m.tensors.push_back(std::move(r));
    }
    for (const auto& t : j.at("rank_local")) {
      RankLocalRecord r;
      r.rank = t.at("rank").get<int>();
      r.name = t.at("name").get<std::string>();
      r.dtype = dtype_from_name(t.at("dtype").get<std::string>());
      r.shape = t.at("shape").get<std::vector<int64_t>>();
      r.shard = t.at("shard").get<int>();
      r.dataset = t.at("dataset").get<std::string>();
      r.checksum = checksum_from_hex(t.at("xxh64").get<std::string>(), where);
      m.rank_local.push_back(std::move(r));
    }
    return m;
  } catch (const json::exception& e) {
    throw UserError(std::string("malformed checkpoint manifest: ") + e.what(), where, "the manifest is corrupt");
  }
}

}  // namespace uda::storage
