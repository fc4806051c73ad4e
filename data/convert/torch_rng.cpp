#include "data/convert/torch_rng.h"

#include <limits>
#include <stdexcept>

namespace uda::data {

TorchCpuGenerator::TorchCpuGenerator(uint64_t seed) : engine_(static_cast<uint32_t>(seed & 0xffffffffu)) {}

std::vector<int64_t> TorchCpuGenerator::randperm(int64_t n) {
  if (n < 0) throw std::invalid_argument("randperm: n must be non-negative");
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[static_cast<size_t>(i)] = i;
  // randperm_cpu: for i in [0, n-1): z = random() % (n - i); swap(r[i], r[z + i]).
  // The modulo is taken of the 32-bit draw widened to int64.
  for (int64_t i = 0; i + 1 < n; ++i) {
    const int64_t z = static_cast<int64_t>(random()) % (n - i);
    std::swap(r[static_cast<size_t>(i)], r[static_cast<size_t>(z + i)]);
  }
  return r;
}

std::vector<float> TorchCpuGenerator::rand(size_t n) {
  // at::uniform_real_distribution<float> (ATen/core/DistributionsHelper.h)
  // takes one random() per value; transformation::uniform_real
  // (ATen/core/TransformationHelper.h) keeps its low 24 bits (float's
  // digits) and multiplies by 2^-24 in float: (x & (2^24 - 1)) * 2^-24, then
  // x * (to - from) + from with from 0, to 1, which is exact.
  constexpr uint32_t kMask = (uint32_t{1} << std::numeric_limits<float>::digits) - 1;
  constexpr float kDivisor = 1.0f / static_cast<float>(uint32_t{1} << std::numeric_limits<float>::digits);
  std::vector<float> out(n);
  for (auto& v : out) v = static_cast<float>(random() & kMask) * kDivisor;
  return out;
}

}  // namespace uda::data
