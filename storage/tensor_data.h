// A framework-neutral tensor: dtype, shape and contiguous little-endian bytes.
// Used by the .pth reader/writer and the checkpoint store, which do not
// depend on torch; torch code converts with models/ or worker/ helpers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace uda::storage {

enum class DType { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "int64", ...
DType dtype_from_name(const std::string& name);  // UserError on unknown

struct TensorData {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // C-contiguous, numel * dtype_size

  int64_t numel() const;
};

// An ordered state dict (key order as written by torch.save).
using StateDict = std::vector<std::pair<std::string, TensorData>>;

// A zero-filled tensor of the given dtype and shape.
TensorData make_tensor(DType dtype, std::vector<int64_t> shape);
// The tensor stored under `name`, or nullptr.
const TensorData* find_tensor(const StateDict& sd, const std::string& name);

}  // namespace uda::storage
