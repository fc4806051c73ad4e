// Loading, merging, overriding and validating JSON configs.
//
//  - `_base_` (a path or a list of paths, relative to the file) is merged
//    deeply first, in order, later wins; the file's own keys win last.
//  - `"_delete_": true` inside an object replaces the inherited object
//    instead of merging into it (the mmcv/mmseg convention).
//  - `--set a.b.c=VALUE` overrides; VALUE is parsed as JSON, else a string.
//  - Every key must be declared in the schema (core/schema.h).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace uda::config {

// Where each leaf value came from: a file path or "--set KEY".
using Origins = std::map<std::string, std::string>;

class Config {
 public:
  Config() = default;
  Config(nlohmann::json value, Origins origins)
      : value_(std::move(value)), origins_(std::move(origins)) {}

  const nlohmann::json& json() const { return value_; }
  nlohmann::json& mutable_json() { return value_; }
  const Origins& origins() const { return origins_; }

  bool has(const std::string& path) const;
  // The value at a dotted path; UserError naming the path when absent.
  const nlohmann::json& at(const std::string& path) const;
  template <class T>
  T get(const std::string& path) const { return at(path).get<T>(); }
  // A non-null value at `path` or a UserError that names it as required.
  const nlohmann::json& require(const std::string& path) const;
  // The file (or "--set") a key came from, "" if it is a default.
  std::string origin(const std::string& path) const;

  // xxHash64 of the canonical (sorted-key, compact) JSON, 16 hex digits.
  std::string hash() const;

 private:
  nlohmann::json value_;
  Origins origins_;
};

// Reads `file` with its `_base_` chain (cycles are errors showing the chain).
nlohmann::json load_merged(const std::string& file, Origins* origins);
// Deep merge of `src` into `dst` with `_delete_` semantics.
void merge_into(nlohmann::json& dst, const nlohmann::json& src, const std::string& source,
                Origins* origins, const std::string& prefix = "");
// Applies one `a.b.c=VALUE` override.
void apply_override(nlohmann::json& cfg, const std::string& assignment, Origins* origins);
// Checks every key against the schema and fills defaults.
void validate(nlohmann::json& cfg, const Origins& origins);

// The full pipeline: load, override, validate.
Config load(const std::string& file, const std::vector<std::string>& overrides = {});
// The same from an in-memory JSON document (`source` names it in errors).
Config from_json(nlohmann::json doc, const std::string& source,
                 const std::vector<std::string>& overrides = {});

// Writes `config.json` (resolved) and `config.hash` into `dir` atomically.
void write_resolved(const Config& cfg, const std::string& dir);

// Parses a JSON file; a malformed file is a UserError with line and column.
nlohmann::json read_json_file(const std::string& file);

}  // namespace uda::config
