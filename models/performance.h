// Performance switches for CUDA runs (compiled everywhere, effective where
// the backend supports them):
//  - channels-last memory format for 4-D weights and inputs (cuDNN/oneDNN
//    NHWC kernels);
//  - autocast to bf16/fp16 for the forward pass.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace torch::nn {
class Module;
}

namespace uda::models {

// Converts every 4-D parameter and buffer of `m` to channels-last in place.
void to_channels_last(torch::nn::Module& m);
at::Tensor channels_last(const at::Tensor& x);  // no-op for non-4-D tensors

// Enables autocast for `device` (kCUDA or kCPU) with `dtype` (kBFloat16 or
// kHalf) for the scope's lifetime; restores the previous state. Disabled
// (no effect) when `enabled` is false.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype, bool enabled = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool enabled_, prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = c10::ScalarType::Float;
};

}  // namespace uda::models
