// Collectives that autograd can differentiate through: the ONE mechanism for
// losses over the global batch (docs/SCALING.md, "Losses over the global
// batch").
//
// all_gather_rows(comm, x) concatenates every rank's rows of `x` (dim 0) in
// rank order: rank 0's rows, then rank 1's, ... — on every rank the same
// global-batch tensor. Other dimensions must agree; the number of rows may
// differ between ranks. Its backward is the reduce-scatter of the incoming
// gradient: each rank receives the SUM over ranks of the gradient that
// rank's loss sends to the rows it contributed (as
// torch.distributed.nn.all_gather). So when every rank computes the same
// loss L from the gathered batch, the local gradient is W * dL/d(own rows),
// and the gradient reducer's average over the W ranks gives exactly dL/dθ —
// the gradient one rank computes on the whole global batch. Terms that are
// already means over local samples of equal counts (a per-rank
// cross-entropy) add to it unchanged.
//
// Collective: every rank calls it, in the same order, also in backward (the
// backward runs one all-reduce, in autograd order, which is the same on
// every rank because the graphs are). Integer tensors (labels, domain ids,
// sample keys) are gathered the same way and carry no gradient. With one
// rank it returns `x` itself.
#pragma once

#include "comm/communicator.h"

#include <ATen/core/Tensor.h>


namespace uda::comm {

at::Tensor all_gather_rows(Communicator& comm, const at::Tensor& x);

}  // namespace uda::comm
