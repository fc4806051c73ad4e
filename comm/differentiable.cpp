#include "comm/differentiable.h"

#include "comm/global_batch_clock.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>

namespace uda::comm {

namespace {

// The number of rows of every rank (one small collective), exchanged on
// the device of `x` (NCCL needs CUDA tensors).
std::vector<int64_t> gather_row_counts(Communicator& comm, const at::Tensor& x) {
  auto mine = torch::full({1}, x.size(0), torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  auto all = comm.all_gather(mine).to(torch::kCPU).contiguous();
  return std::vector<int64_t>(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + all.numel());
}

// Gathers rows of `x` (no autograd): pads every rank's part to the largest
// row count, exchanges [W, max, ...], and keeps each rank's own rows.
at::Tensor gather_padded(Communicator& comm, const at::Tensor& x, const std::vector<int64_t>& counts) {
  const int64_t most = *std::max_element(counts.begin(), counts.end());
  at::Tensor part = x.contiguous();
  if (part.size(0) < most) {
    std::vector<int64_t> pad_shape(part.sizes().begin(), part.sizes().end());
    pad_shape[0] = most - part.size(0);
    part = torch::cat({part, torch::zeros(pad_shape, part.options())});
  }
  at::Tensor all = comm.all_gather(part);  // [W, most, ...]
  std::vector<at::Tensor> rows;
  for (size_t r = 0; r < counts.size(); ++r)
    if (counts[r] > 0) rows.push_back(all[static_cast<int64_t>(r)].narrow(0, 0, counts[r]));
  if (rows.empty()) {
    std::vector<int64_t> shape(part.sizes().begin(), part.sizes().end());
    shape[0] = 0;
    return torch::empty(shape, part.options());
  }
  return torch::cat(rows);
}

// y = rows of every rank; dL/dx = (Σ_ranks dL_r/dy)[own rows].
class AllGatherRows : public torch::autograd::Function<AllGatherRows> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, int64_t comm_address) {
    GlobalBatchTimer timer;
    auto& comm = *reinterpret_cast<Communicator*>(static_cast<intptr_t>(comm_address));
    const auto counts = gather_row_counts(comm, x);
    const int64_t offset = std::accumulate(counts.begin(), counts.begin() + comm.rank(), int64_t{0});
    ctx->saved_data["comm"] = comm_address;
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["rows"] = x.size(0);
    auto y = gather_padded(comm, x.detach(), counts);
    ctx->saved_data["shape"] = y.sizes().vec();
    ctx->saved_data["dtype"] = c10::IValue(y.scalar_type());
    ctx->saved_data["device"] = c10::IValue(y.device());
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    GlobalBatchTimer timer;
    auto& comm = *reinterpret_cast<Communicator*>(static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
    const int64_t offset = ctx->saved_data["offset"].toInt();
    const int64_t rows = ctx->saved_data["rows"].toInt();
    // A reduce-scatter done as an all-reduce of the whole gradient (the
    // gathered features are small next to the parameters) and a slice.
    auto g = grad[0].defined()
                 ? grad[0].detach().clone().contiguous()
                 : torch::zeros(ctx->saved_data["shape"].toIntVector(),
                                torch::TensorOptions()
                                    .dtype(ctx->saved_data["dtype"].toScalarType())
                                    .device(ctx->saved_data["device"].toDevice()));
    comm.all_reduce(g, ReduceOp::Sum);
    return {g.narrow(0, offset, rows).clone(), torch::Tensor()};
  }
};

}  // namespace

at::Tensor all_gather_rows(Communicator& comm, const at::Tensor& x) {
  if (!x.defined() || x.dim() < 1) throw std::invalid_argument("all_gather_rows: a tensor with rows is needed");
  if (comm.size() == 1) return x;
  if (!x.requires_grad()) {
    GlobalBatchTimer timer;
    torch::NoGradGuard no_grad;
    return gather_padded(comm, x, gather_row_counts(comm, x));
  }
  return AllGatherRows::apply(x, static_cast<int64_t>(reinterpret_cast<intptr_t>(&comm)));
}

}  // namespace uda::comm
