// The value tree produced by the safe unpickler: the Python values a
// torch.save'd state dict or checkpoint may hold (None, bool, int, float,
// str, bytes, tuple, list, dict/OrderedDict, tensor), nothing executable.
#pragma once

#include "storage/tensor_data.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace uda::storage {

struct PyValue;
using PyValuePtr = std::shared_ptr<PyValue>;

struct PyValue {
  // Global and Storage are inert references that only occur inside a
  // hostile or unusual pickle (an allowed global or storage that was not
  // rebuilt into a tensor); they are never called.
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Tensor, Global, Storage };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                    // Str (UTF-8) and Bytes
  std::vector<PyValuePtr> items;                    // Tuple, List
  std::vector<std::pair<PyValuePtr, PyValuePtr>> dict;  // Dict, in insertion order
  bool ordered = false;                             // Dict: a collections.OrderedDict
  // Dict: attributes set by BUILD (an OrderedDict state dict keeps
  // "_metadata": prefix -> {"version": n}).
  std::vector<std::pair<std::string, PyValuePtr>> attributes;
  std::shared_ptr<const TensorData> tensor;         // Tensor (materialised, contiguous)
  // Storage: the raw bytes of a torch typed storage.
  std::shared_ptr<const std::vector<uint8_t>> storage;
  DType storage_dtype = DType::Float32;
  int64_t storage_numel = 0;

  // Bookkeeping of the unpickler: nesting depth, and whether the value has
  // been placed inside another one (then it can no longer be mutated, which
  // makes reference cycles impossible).
  uint32_t depth = 0;
  bool sealed = false;

  bool is_str() const { return kind == Kind::Str; }
  bool is_dict() const { return kind == Kind::Dict; }
  // Dict lookup by string key; nullptr when absent or not a dict.
  PyValuePtr get(const std::string& key) const;
  // "dict", "OrderedDict", "tensor", ... for error messages.
  std::string type_name() const;
};

}  // namespace uda::storage
