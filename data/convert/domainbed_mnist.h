// DomainBed's MNIST environment constructions (facebookresearch/DomainBed,
// domainbed/datasets.py at b93c22a): which image goes to which environment,
// and ColoredMNIST's labels and colours, drawn exactly as DomainBed draws
// them after torch.manual_seed(seed) with torch 1.13 (TorchCpuGenerator).
// The images themselves are transformed by the idx converter.
//
// MultipleEnvironmentMNIST (datasets.py:91-120): the train images, then the
// test (t10k) images, merged; shuffle = torch.randperm(n), the first draw
// after the seed; environment i = shuffled positions i, i + k, i + 2k, ...
// for k environments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

struct MnistEnvSample {
  int64_t source = 0;  // index into the merged images (train first, then t10k)
  int env = 0;
  int64_t label = 0;   // the digit (rotated); the noisy binary label (colored)
  int color = -1;      // colored: the channel that keeps the digit (0 or 1); -1 otherwise
};

struct MnistEnvironments {
  std::vector<std::string> names;       // DomainBed's ENVIRONMENTS
  std::vector<MnistEnvSample> samples;  // environment 0 first, each in DomainBed's order
};

// RotatedMNIST (datasets.py:163-183): 6 environments, rotated by
// kRotatedMnistAngles[env] degrees (the caller rotates).
inline constexpr int kRotatedMnistAngles[] = {0, 15, 30, 45, 60, 75};

// `labels` are the merged class ids (0..9). Only the shuffled positions
// below `keep` are returned (all when keep >= labels.size()), so every
// environment is a prefix of DomainBed's environment; the draws are those of
// the full construction.
MnistEnvironments rotated_mnist(const std::vector<uint8_t>& labels, uint64_t seed, size_t keep);

// ColoredMNIST (datasets.py:123-160): 3 environments with colour-flip
// probabilities 0.1, 0.2, 0.9. Per environment, in order: binary label
// (digit < 5 -> 1), flipped where torch.rand(m) < 0.25; colour = label,
// flipped where torch.rand(m) < e. The digit stays in channel `color`, the
// other channel is zeroed.
MnistEnvironments colored_mnist(const std::vector<uint8_t>& labels, uint64_t seed, size_t keep);

}  // namespace uda::data
