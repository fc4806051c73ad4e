#include "storage/tensor_data.h"

#include "core/error.h"

namespace uda::storage {

namespace {
struct DTypeInfo {
  DType type;
  size_t size;
  const char* name;
};
// One table so that sizes and names can never disagree.
constexpr DTypeInfo kDTypes[] = {
    {DType::Float32, 4, "float32"}, {DType::Float64, 8, "float64"}, {DType::Float16, 2, "float16"},
    {DType::BFloat16, 2, "bfloat16"}, {DType::Int64, 8, "int64"},  {DType::Int32, 4, "int32"},
    {DType::Int16, 2, "int16"},     {DType::Int8, 1, "int8"},       {DType::UInt8, 1, "uint8"},
    {DType::Bool, 1, "bool"},
};

const DTypeInfo& info(DType t) {
  for (const auto& i : kDTypes)
    if (i.type == t) return i;
  throw std::logic_error("invalid DType value");
}
}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
const char* dtype_name(DType t) { return info(t).name; }

DType dtype_from_name(const std::string& name) {
  for (const auto& i : kDTypes)
    if (name == i.name) return i.type;
  throw UserError("unknown tensor dtype '" + name + "'", "",
                  "expected one of float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool");
}

int64_t TensorData::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

TensorData make_tensor(DType dtype, std::vector<int64_t> shape) {
  TensorData t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.assign(static_cast<size_t>(t.numel()) * dtype_size(dtype), 0);
  return t;
}

const TensorData* find_tensor(const StateDict& sd, const std::string& name) {
  for (const auto& [k, v] : sd)
    if (k == name) return &v;
  return nullptr;
}

}  // namespace uda::storage
