#include "core/schema.h"

#include <algorithm>
#include <stdexcept>

namespace uda::config {

const char* type_name(Type t) {
  switch (t) {
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
    case Type::Any: return "any";
  }
  return "?";
}

const char* json_type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

bool type_accepts(Type t, const nlohmann::json& v) {
  switch (t) {
    case Type::Bool: return v.is_boolean();
    case Type::Int: return v.is_number_integer();
    case Type::Number: return v.is_number();
    case Type::String: return v.is_string();
    case Type::Array: return v.is_array();
    case Type::Object: return v.is_object();
    case Type::Any: return true;
  }
  return false;
}

Schema& Schema::global() {
  static Schema schema;
  return schema;
}

void Schema::declare(const KeySpec& spec) {
  auto it = keys_.find(spec.path);
  if (it != keys_.end()) {
    // Two components may share a key only if they agree on it.
    if (it->second.type != spec.type || it->second.default_value != spec.default_value)
      throw std::logic_error("config key declared twice with different types/defaults: " + spec.path);
    return;
  }
  keys_.emplace(spec.path, spec);
}

const KeySpec* Schema::find(const std::string& path) const {
  auto it = keys_.find(path);
  return it == keys_.end() ? nullptr : &it->second;
}

bool Schema::is_section(const std::string& path) const {
  const std::string prefix = path + ".";
  auto it = keys_.lower_bound(prefix);
  return it != keys_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string Schema::nearest(const std::string& path) const {
  std::string best;
  size_t best_d = SIZE_MAX;
  // Candidates are the declared keys and the sections above them, so that a
  // misspelt section ("optimzer") is matched to the section ("optimizer").
  auto consider = [&](const std::string& candidate) {
    size_t d = edit_distance(path, candidate);
    if (d < best_d) best_d = d, best = candidate;
  };
  for (const auto& [k, spec] : keys_) {
    for (size_t dot = k.find('.'); dot != std::string::npos; dot = k.find('.', dot + 1)) consider(k.substr(0, dot));
    consider(k);
  }
  return best;
}

KeyRegistrar::KeyRegistrar(std::initializer_list<KeySpec> specs) {
  for (const auto& s : specs) Schema::global().declare(s);
}

}  // namespace uda::config
