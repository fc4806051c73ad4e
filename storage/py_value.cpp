#include "storage/py_value.h"

namespace uda::storage {

PyValuePtr PyValue::get(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : dict)
    if (k && k->kind == Kind::Str && k->s == key) return v;
  return nullptr;
}

std::string PyValue::type_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return ordered ? "OrderedDict" : "dict";
    case Kind::Tensor: return "tensor";
    case Kind::Global: return "global " + s;
    case Kind::Storage: return "storage";
  }
  return "?";
}

}  // namespace uda::storage
