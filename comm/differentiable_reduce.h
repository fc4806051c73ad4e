// A differentiable all-reduce: the average over ranks of a list of tensors,
// as an autograd operation, so that a quantity every rank must agree on in
// the middle of a computation graph — the inner-step gradient of MLDG /
// MetaAlign, θ' = θ − α·mean_r g_r(θ) — is the GLOBAL batch's on every rank
// and second derivatives flow through it.
//
// Forward: y_i = (1/W) Σ_r x_i^(r) for every tensor i (one flat exchange).
// Backward: the same average of the incoming gradients,
//   dx_i^(r) = (1/W) Σ_s dy_i^(s).
// Why (docs/SCALING.md, "Differentiable all-reduce"): every rank's autograd
// computes the gradient of the SUM of all ranks' objectives Σ_s O_s with
// respect to its own replica of the inputs of its local graph, and the
// gradient reducer then averages those over ranks, which yields
// ∇ (1/W) Σ_s O_s — the gradient of the global objective. y reaches every
// rank's O_s, and ∂y/∂x^(r) = 1/W, so ∂(Σ_s O_s)/∂x^(r) = (1/W) Σ_s dy^(s).
// The backward is itself this operation, so it is differentiable again.
//
// Collective: every rank calls it, and runs its backward, in the same order
// (the same code path builds the same graph everywhere). Undefined inputs
// are not allowed (pass zeros for a parameter without a gradient). With one
// rank it returns its inputs unchanged (no autograd node).
#pragma once

#include "comm/communicator.h"

#include <ATen/core/Tensor.h>

#include <vector>

namespace uda::comm {

std::vector<at::Tensor> all_reduce_mean(Communicator& comm, const std::vector<at::Tensor>& tensors);

}  // namespace uda::comm
