// The differences between the libtorch versions uda builds against —
// Debian's libtorch 1.13 (the default build) and PyPI's torch 2.x (the
// modern build, docs/TESTING.md) — kept in this one header, so that the rest
// of the code has one path.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include <string>

#define UDA_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace uda::torch_compat {

// The key of a parameter in torch::optim::Optimizer::state(): its
// TensorImpl printed as a string in libtorch 1.x, the TensorImpl's address
// (a void*) in 2.x.
#if UDA_TORCH_AT_LEAST(2, 0)
inline void* optimizer_state_key(const at::Tensor& param) { return param.unsafeGetTensorImpl(); }
#else
inline std::string optimizer_state_key(const at::Tensor& param) {
  return c10::guts::to_string(param.unsafeGetTensorImpl());
}
#endif

}  // namespace uda::torch_compat
