// Conversion between the framework-neutral storage::TensorData (what the
// .pth reader and the checkpoint store produce) and torch tensors.
// Only ATen's tensor type is included, not the whole torch frontend.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "storage/tensor_data.h"

namespace uda::models {

c10::ScalarType to_scalar_type(storage::DType t);
storage::DType from_scalar_type(c10::ScalarType t);  // UserError for unsupported types

// A new CPU tensor owning a copy of the bytes (0-d for an empty shape).
at::Tensor to_torch(const storage::TensorData& t);
// A C-contiguous CPU copy of any tensor (any device, any strides).
storage::TensorData from_torch(const at::Tensor& t);

}  // namespace uda::models
