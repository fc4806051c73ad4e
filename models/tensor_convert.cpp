#include "models/tensor_convert.h"

#include <torch/torch.h>

#include <cstring>

#include "core/error.h"

namespace uda::models {

using storage::DType;

c10::ScalarType to_scalar_type(DType t) {
  switch (t) {
    case DType::Float32: return torch::kFloat32;
    case DType::Float64: return torch::kFloat64;
    case DType::Float16: return torch::kFloat16;
    case DType::BFloat16: return torch::kBFloat16;
    case DType::Int64: return torch::kInt64;
    case DType::Int32: return torch::kInt32;
    case DType::Int16: return torch::kInt16;
    case DType::Int8: return torch::kInt8;
    case DType::UInt8: return torch::kUInt8;
    case DType::Bool: return torch::kBool;
  }
  throw std::logic_error("to_scalar_type: unknown DType");
}

DType from_scalar_type(c10::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return DType::Float32;
    case torch::kFloat64: return DType::Float64;
    case torch::kFloat16: return DType::Float16;
    case torch::kBFloat16: return DType::BFloat16;
    case torch::kInt64: return DType::Int64;
    case torch::kInt32: return DType::Int32;
    case torch::kInt16: return DType::Int16;
    case torch::kInt8: return DType::Int8;
    case torch::kUInt8: return DType::UInt8;
    case torch::kBool: return DType::Bool;
    default: break;
  }
  throw UserError(std::string("tensor dtype ") + c10::toString(t) + " cannot be stored", "from_torch",
                  "convert the tensor to a float or integer type first");
}

at::Tensor to_torch(const storage::TensorData& t) {
  const auto type = to_scalar_type(t.dtype);
  auto out = torch::empty(t.shape, torch::TensorOptions().dtype(type));
  const size_t nbytes = static_cast<size_t>(out.numel()) * out.element_size();
  if (nbytes != t.bytes.size()) {
    throw UserError("tensor has " + std::to_string(t.bytes.size()) + " bytes, its shape and dtype need " +
                        std::to_string(nbytes),
                    "to_torch", "the tensor data is corrupt; re-create the file it came from");
  }
  if (nbytes) std::memcpy(out.data_ptr(), t.bytes.data(), nbytes);
  return out;
}

storage::TensorData from_torch(const at::Tensor& t) {
  storage::TensorData out;
  out.dtype = from_scalar_type(t.scalar_type());
  out.shape = t.sizes().vec();
  auto c = t.detach().to(torch::kCPU).contiguous();
  const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
  out.bytes.resize(nbytes);
  if (nbytes) std::memcpy(out.bytes.data(), c.data_ptr(), nbytes);
  return out;
}

}  // namespace uda::models
