// The config schema registry: every config key is declared, by the component
// that reads it, with its type, default and one line of documentation.
//
// Components declare keys at static-initialisation time:
//   static const uda::config::KeyRegistrar kKeys({
//     {"train.max_iters", Type::Int, 40000, "Number of training iterations."},
//   });
// Validation (core/config.h) rejects undeclared keys, wrong types and missing
// required keys, and fills defaults.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace uda::config {

enum class Type {
  Bool,
  Int,
  Number,   // int or float
  String,
  Array,    // any JSON array
  Object,   // a free-form object: its children are not validated
  Any,
};

const char* type_name(Type t);
// The type name of a JSON value, in the vocabulary of type_name().
const char* json_type_name(const nlohmann::json& v);
bool type_accepts(Type t, const nlohmann::json& v);

struct KeySpec {
  std::string path;             // dotted, e.g. "optimizer.lr"
  Type type = Type::Any;
  nlohmann::json default_value; // null = no default
  std::string doc;
  bool required = false;
  std::vector<std::string> choices;  // allowed string values, empty = any
};

class Schema {
 public:
  static Schema& global();

  void declare(const KeySpec& spec);
  const KeySpec* find(const std::string& path) const;
  // True when `path` is a prefix (an intermediate object) of a declared key.
  bool is_section(const std::string& path) const;
  // The declared key closest to `path` (edit distance), or "" when none.
  std::string nearest(const std::string& path) const;
  const std::map<std::string, KeySpec>& keys() const { return keys_; }

 private:
  std::map<std::string, KeySpec> keys_;
};

struct KeyRegistrar {
  KeyRegistrar(std::initializer_list<KeySpec> specs);
};

}  // namespace uda::config
