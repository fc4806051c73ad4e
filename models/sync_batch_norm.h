// Batch normalisation that can synchronise its batch statistics across
// data-parallel ranks (`runtime.sync_bn`, PyTorch's SyncBatchNorm semantics).
//
// The networks call batch_norm(module, x) instead of module(x). While a
// cross-rank sum is installed (the worker does so when runtime.sync_bn is on
// and there is more than one rank), a BatchNorm in training mode normalises
// with the mean and variance of the union of all ranks' batches, updates its
// running statistics with them, and back-propagates through the exchange, so
// W ranks with batch b compute what one rank with batch W*b would. Eval mode,
// and training without an installed sum, are exactly torch's BatchNorm2d.
#pragma once

#include <torch/nn/modules/batchnorm.h>

#include <functional>

namespace uda::models {

// Sums a tensor element-wise over all ranks, in place. Every rank must call it
// in the same order (the networks' BatchNorms run in the same order everywhere).
using CrossRankSum = std::function<void(at::Tensor&)>;

// Installs (or, with an empty function, removes) the process-wide sum.
void set_batch_norm_sync(CrossRankSum sum);
bool batch_norm_sync_enabled();

torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

}  // namespace uda::models
