// CSG's two views of each training image (NVlabs/CSG train.py:96-103 and
// data/loader_csg.py TwoCropsTransform: the query and the key view are two
// independent draws of RandAugment(N=1, M=6) with the 14 official
// operations, data/pipeline/randaugment.h).
//
// uda's loader hands one view per sample; the algorithm derives both from it
// here, each row's operation drawn from a counter-based stream keyed by
// (seed, view, step, domain, global slot) — not by rank, row or thread — so
// 2 ranks x b draw what 1 rank x 2b draws, and a resumed run draws what the
// uninterrupted one drew (the state is the step counter the checkpoint
// holds). Deviation: the official views also differ by their random crops
// (RandAugment before Resize/RandomCrop); here they share the loader's crop.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace uda::algos::contrastive {

struct PixelNormalization {
  std::array<double, 3> mean{0, 0, 0};  // data.source.mean: pixel = x * std + mean
  std::array<double, 3> std{1, 1, 1};
};

// RandAugment of every row of the normalised `images` [N, C, H, W] (C = 1
// or 3; a grey image is augmented as R = G = B and read back from R), row i
// with the stream data::pipeline::Rng(row_keys[i]). n = 0 returns a copy.
at::Tensor rand_augment_rows(const at::Tensor& images, const std::vector<uint64_t>& row_keys, int n, int magnitude,
                             const PixelNormalization& norm);

}  // namespace uda::algos::contrastive
