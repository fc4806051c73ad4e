// PyTorch 1.13's default CPU generator, reproduced without linking torch so
// that torch-free converters draw exactly what a Python script does after
// torch.manual_seed(seed):
//
//   TorchCpuGenerator g(seed);       // torch.manual_seed(seed)
//   auto perm = g.randperm(70000);   // torch.randperm(70000)
//   auto u = g.rand(23334);          // torch.rand(23334) (float32)
//
// Verified bit for bit against torch 1.13.1 (tests/data/domainbed_mnist_test.cpp).
// Later torch versions may draw differently (docs/FORMATS.md).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace uda::data {

class TorchCpuGenerator {
 public:
  // CPUGeneratorImpl::set_current_seed (aten/src/ATen/CPUGeneratorImpl.cpp):
  // the engine is re-created as at::mt19937(seed), whose init_with_uint32
  // (ATen/core/MT19937RNGEngine.h) keeps the low 32 bits of the seed.
  explicit TorchCpuGenerator(uint64_t seed);

  // CPUGeneratorImpl::random(): one 32-bit output of the engine.
  uint32_t random() { return engine_(); }

  // torch.randperm(n) (int64, CPU): randperm_cpu in
  // aten/src/ATen/native/TensorFactories.cpp.
  std::vector<int64_t> randperm(int64_t n);

  // torch.rand(n) (float32, CPU): uniform_kernel in
  // aten/src/ATen/native/cpu/DistributionTemplates.h, serially in index order.
  std::vector<float> rand(size_t n);

 private:
  // at::mt19937 is the reference MT19937 (Matsumoto & Nishimura's
  // mt19937ar), which std::mt19937 is required to be: equal seeds give equal
  // 32-bit outputs.
  std::mt19937 engine_;
};

}  // namespace uda::data
