#include "core/config.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/schema.h"

#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::config {

namespace {

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

void erase_origins_under(Origins* origins, const std::string& path) {
  if (!origins) return;
  origins->erase(path);
  const std::string p = path + ".";
  for (auto it = origins->lower_bound(p); it != origins->end() && it->first.compare(0, p.size(), p) == 0;)
    it = origins->erase(it);
}

json::json_pointer pointer(const std::string& dotted) {
  std::string ptr;
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) ptr += "/" + part;
  return json::json_pointer(ptr);
}

void load_chain(const fs::path& file, std::vector<fs::path>& stack, json& out, Origins* origins) {
  fs::path canon = fs::weakly_canonical(file);
  for (size_t i = 0; i < stack.size(); ++i) {
    if (stack[i] == canon) {
      std::string chain;
      for (size_t j = i; j < stack.size(); ++j) chain += stack[j].string() + " -> ";
      chain += canon.string();
      throw UserError("config _base_ include cycle: " + chain, stack.back().string(),
                      "remove one of the _base_ entries that close the cycle");
    }
  }
  json doc = read_json_file(canon.string());
  if (!doc.is_object())
    throw UserError("config must be a JSON object", canon.string(), "wrap the settings in { ... }");
  stack.push_back(canon);
  if (doc.contains("_base_")) {
    const json& base = doc["_base_"];
    std::vector<std::string> bases;
    if (base.is_string()) bases.push_back(base.get<std::string>());
    else if (base.is_array()) {
      for (const auto& b : base) {
        if (!b.is_string())
          throw UserError("_base_ entries must be strings", canon.string() + ": _base_",
                          "list the base config files as paths relative to this file");
        bases.push_back(b.get<std::string>());
      }
    } else {
      throw UserError("_base_ must be a path or a list of paths", canon.string() + ": _base_",
                      "write \"_base_\": \"base.json\" or [\"a.json\", \"b.json\"]");
    }
    for (const auto& b : bases) {
      fs::path p = fs::path(b).is_absolute() ? fs::path(b) : canon.parent_path() / b;
      if (!fs::exists(p))
        throw UserError("base config not found: " + p.string(), canon.string() + ": _base_",
                        "paths in _base_ are relative to the file that names them");
      load_chain(p, stack, out, origins);
    }
  }
  merge_into(out, doc, canon.string(), origins);
  stack.pop_back();
}

void validate_node(json& node, const std::string& prefix, const Origins& origins) {
  const Schema& schema = Schema::global();
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string path = join(prefix, it.key());
    const KeySpec* spec = schema.find(path);
    auto where = [&] {
      auto o = origins.find(path);
      std::string src = o != origins.end() ? o->second : "";
      if (src.empty()) {  // an object: name the file of any leaf below it
        auto lb = origins.lower_bound(path + ".");
        if (lb != origins.end() && lb->first.compare(0, path.size() + 1, path + ".") == 0) src = lb->second;
      }
      return src.empty() ? path : src + ": " + path;
    };
    if (spec) {
      if (!type_accepts(spec->type, it.value()) && !(it.value().is_null() && !spec->required)) {
        throw UserError(std::string("wrong type for config key: expected ") + type_name(spec->type) +
                            ", got " + json_type_name(it.value()),
                        where(), spec->doc.empty() ? "fix the value" : "the key is: " + spec->doc);
      }
      if (!spec->choices.empty() && it.value().is_string()) {
        const auto v = it.value().get<std::string>();
        bool ok = false;
        std::string all;
        for (const auto& c : spec->choices) {
          ok |= c == v;
          all += (all.empty() ? "" : "|") + c;
        }
        if (!ok)
          throw UserError("invalid value '" + v + "' for config key", where(), "choose one of " + all);
      }
      continue;
    }
    if (schema.is_section(path)) {
      if (!it.value().is_object())
        throw UserError(std::string("wrong type for config section: expected object, got ") +
                            json_type_name(it.value()),
                        where(), "this key holds a group of settings; see `uda config doc`");
      validate_node(it.value(), path, origins);
      continue;
    }
    const std::string near = schema.nearest(path);
    throw UserError("unknown config key", where(),
                    near.empty() ? "remove it" : "did you mean '" + near + "'? (see `uda config doc`)");
  }
}

}  // namespace

json read_json_file(const std::string& file) {
  std::ifstream in(file);
  if (!in)
    throw UserError("cannot read config file", file, "check that the file exists and is readable");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, col = 1;
      else ++col;
    }
    std::string msg = e.what();
    auto pos = msg.find("parse error");
    throw UserError("malformed JSON: " + (pos == std::string::npos ? msg : msg.substr(pos)),
                    file + ":" + std::to_string(line) + ":" + std::to_string(col),
                    "fix the JSON syntax at that position");
  }
}

void merge_into(json& dst, const json& src, const std::string& source, Origins* origins,
                const std::string& prefix) {
  if (!dst.is_object()) dst = json::object();
  for (auto it = src.begin(); it != src.end(); ++it) {
    const std::string& k = it.key();
    if (k == "_base_" || k == "_delete_") continue;
    const std::string path = join(prefix, k);
    const json& v = it.value();
    if (v.is_object()) {
      bool del = false;
      if (v.contains("_delete_")) {
        if (!v["_delete_"].is_boolean())
          throw UserError("_delete_ must be true or false", source + ": " + path + "._delete_",
                          "write \"_delete_\": true to replace the inherited object");
        del = v["_delete_"].get<bool>();
      }
      if (del || !dst.contains(k) || !dst[k].is_object()) {
        erase_origins_under(origins, path);
        dst[k] = json::object();
      }
      merge_into(dst[k], v, source, origins, path);
    } else {
      erase_origins_under(origins, path);
      dst[k] = v;
      if (origins) (*origins)[path] = source;
    }
  }
}

json load_merged(const std::string& file, Origins* origins) {
  if (!fs::exists(file))
    throw UserError("config file not found", file, "check the path (relative to the current directory)");
  std::vector<fs::path> stack;
  json out = json::object();
  load_chain(file, stack, out, origins);
  return out;
}

void apply_override(json& cfg, const std::string& assignment, Origins* origins) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UserError("malformed override '" + assignment + "'", "--set", "write --set a.b.c=VALUE");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text;  // not JSON: a plain string
  }
  json* node = &cfg;
  std::stringstream ss(key);
  std::string part, walked;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) {
    if (part.empty())
      throw UserError("malformed override key '" + key + "'", "--set", "write --set a.b.c=VALUE");
    parts.push_back(part);
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked = join(walked, parts[i]);
    if (!node->contains(parts[i])) (*node)[parts[i]] = json::object();
    node = &(*node)[parts[i]];
    if (!node->is_object())
      throw UserError("cannot set '" + key + "': '" + walked + "' is a " + json_type_name(*node) +
                          ", not an object",
                      "--set " + key, "set '" + walked + "' itself instead");
  }
  erase_origins_under(origins, key);
  (*node)[parts.back()] = value;
  if (origins) (*origins)[key] = "--set " + key;
}

void validate(json& cfg, const Origins& origins) {
  validate_node(cfg, "", origins);
  for (const auto& [path, spec] : Schema::global().keys()) {
    auto ptr = pointer(path);
    if (cfg.contains(ptr) && !cfg[ptr].is_null()) continue;
    if (spec.required)
      throw UserError("missing required config key", path,
                      "add it to the config or pass --set " + path + "=VALUE (" + spec.doc + ")");
    // An explicit null is a value ("no crop", "all classes"): it is kept, not
    // replaced by the default.
    if (cfg.contains(ptr)) continue;
    if (!spec.default_value.is_null()) cfg[ptr] = spec.default_value;
  }
}

Config from_json(json doc, const std::string& source, const std::vector<std::string>& overrides) {
  Origins origins;
  json merged = json::object();
  merge_into(merged, doc, source, &origins);
  for (const auto& o : overrides) apply_override(merged, o, &origins);
  validate(merged, origins);
  return Config(std::move(merged), std::move(origins));
}

Config load(const std::string& file, const std::vector<std::string>& overrides) {
  Origins origins;
  json merged = load_merged(file, &origins);
  for (const auto& o : overrides) apply_override(merged, o, &origins);
  validate(merged, origins);
  return Config(std::move(merged), std::move(origins));
}

bool Config::has(const std::string& path) const {
  auto p = pointer(path);
  return value_.contains(p) && !value_[p].is_null();
}

const json& Config::at(const std::string& path) const {
  auto p = pointer(path);
  if (!value_.contains(p))
    throw UserError("config key not set", path, "set it in the config or with --set " + path + "=VALUE");
  return value_[p];
}

const json& Config::require(const std::string& path) const {
  if (!has(path)) {
    const KeySpec* spec = Schema::global().find(path);
    throw UserError("missing required config key", path,
                    "add it to the config or pass --set " + path + "=VALUE" +
                        (spec && !spec->doc.empty() ? " (" + spec->doc + ")" : ""));
  }
  return at(path);
}

std::string Config::origin(const std::string& path) const {
  auto it = origins_.find(path);
  return it == origins_.end() ? "" : it->second;
}

std::string Config::hash() const {
  const std::string canon = value_.dump();
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH64(canon.data(), canon.size(), 0)));
  return buf;
}

void write_resolved(const Config& cfg, const std::string& dir) {
  fs::create_directories(dir);
  fs_util::write_file_atomic((fs::path(dir) / "config.json").string(), cfg.json().dump(2) + "\n");
  fs_util::write_file_atomic((fs::path(dir) / "config.hash").string(), cfg.hash() + "\n");
}

}  // namespace uda::config
