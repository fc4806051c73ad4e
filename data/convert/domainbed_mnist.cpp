#include "data/convert/domainbed_mnist.h"

#include "data/convert/torch_rng.h"

#include <iterator>

namespace uda::data {

namespace {

// Positions i, i + k, ... of a permutation of n: the size of environment i
// (original_images[i::k], datasets.py:114-117).
size_t env_size(size_t n, size_t k, size_t i) { return n > i ? (n - i + k - 1) / k : 0; }

}  // namespace

MnistEnvironments rotated_mnist(const std::vector<uint8_t>& labels, uint64_t seed, size_t keep) {
  const size_t n = labels.size(), k = std::size(kRotatedMnistAngles);
  TorchCpuGenerator gen(seed);
  const std::vector<int64_t> shuffle = gen.randperm(static_cast<int64_t>(n));  // datasets.py:107
  MnistEnvironments out;
  for (int angle : kRotatedMnistAngles) out.names.push_back(std::to_string(angle));  // ENVIRONMENTS, :164
  for (size_t env = 0; env < k; ++env)
    for (size_t pos = env; pos < n && pos < keep; pos += k) {
      const int64_t src = shuffle[pos];
      out.samples.push_back({src, static_cast<int>(env), labels[static_cast<size_t>(src)], -1});
    }
  return out;
}

MnistEnvironments colored_mnist(const std::vector<uint8_t>& labels, uint64_t seed, size_t keep) {
  const size_t n = labels.size();
  const double flip_colour[] = {0.1, 0.2, 0.9};  // datasets.py:127
  const size_t k = std::size(flip_colour);
  TorchCpuGenerator gen(seed);
  const std::vector<int64_t> shuffle = gen.randperm(static_cast<int64_t>(n));
  MnistEnvironments out;
  out.names = {"+90%", "+80%", "-90%"};  // ENVIRONMENTS, :124
  for (size_t env = 0; env < k; ++env) {
    // color_dataset (:133-154) draws torch.rand(len(env)) twice per
    // environment, environments in order. `rand(m) < p` compares in float32:
    // torch casts the Python scalar p to the tensor's dtype.
    const size_t m = env_size(n, k, env);
    const std::vector<float> label_noise = gen.rand(m);
    const std::vector<float> colour_noise = gen.rand(m);
    const float p_colour = static_cast<float>(flip_colour[env]);
    for (size_t j = 0; j < m; ++j) {
      const size_t pos = env + j * k;
      if (pos >= keep) break;
      const int64_t src = shuffle[pos];
      const int digit_below_5 = labels[static_cast<size_t>(src)] < 5 ? 1 : 0;  // (labels < 5).float()
      const int label = digit_below_5 ^ (label_noise[j] < 0.25f ? 1 : 0);      // torch_xor_ = |a - b|
      const int colour = label ^ (colour_noise[j] < p_colour ? 1 : 0);
      out.samples.push_back({src, static_cast<int>(env), label, colour});
    }
  }
  return out;
}

}  // namespace uda::data
