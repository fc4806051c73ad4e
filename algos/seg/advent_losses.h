// The losses of ADVENT (Vu et al., CVPR 2019) as its official code computes
// them (github.com/valeoai/ADVENT, advent/utils/loss.py, advent/utils/func.py),
// plus the class-ratio prior that the release leaves out (formula from the
// maintainers' answer in the repository's issue #9 and the paper, eq. 7).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace uda::algos {

// MinEnt's loss (loss.py entropy_loss): the weighted self-information map
// -p·log2(p + 1e-30) / log2(C) summed over classes and averaged over the
// N·H·W pixels. prob: softmax probabilities [N, C, H, W].
at::Tensor advent_entropy_loss(const at::Tensor& prob);

// func.py bce_loss: BCE-with-logits of every discriminator output against
// the constant domain label (source 0, target 1), averaged over elements.
at::Tensor advent_bce_loss(const at::Tensor& d_out, double domain_label);

// Class-ratio prior: mean over images of Σ_c max(0, μ·p_s[c] − p̄_x[c]),
// p̄_x the softmax averaged over the image's pixels (global average pooling).
// prob: [N, C, H, W]; source_ratio: [C] (sums to 1). μ = 1 is the issue #9
// formula; the paper relaxes it with μ = 0.5.
at::Tensor class_ratio_prior_loss(const at::Tensor& prob, const at::Tensor& source_ratio, double mu = 1.0);

// The source class distribution p_s from per-class pixel counts (dataset
// statistics), restricted to the first `num_classes` entries and normalised
// to sum 1. Throws std::invalid_argument when there are fewer counts than
// classes or no pixels at all.
std::vector<double> class_ratio_from_pixels(const std::vector<int64_t>& class_pixels, int64_t num_classes);

}  // namespace uda::algos
