#include "comm/differentiable_reduce.h"

#include "comm/global_batch_clock.h"

#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace uda::comm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One exchange for the whole list: the tensors' values side by side in one
// contiguous buffer, averaged in place, cut back into tensors of the inputs'
// shapes (fresh tensors, not views of the buffer).
variable_list average_flat(Communicator& comm, at::TensorList xs) {
  GlobalBatchTimer timer;
  std::vector<at::Tensor> flat;
  flat.reserve(xs.size());
  for (const auto& x : xs) flat.push_back(x.detach().reshape({-1}));
  auto buffer = torch::cat(flat).contiguous();
  comm.all_reduce(buffer, ReduceOp::Average);
  variable_list out;
  out.reserve(xs.size());
  int64_t offset = 0;
  for (const auto& x : xs) {
    out.push_back(buffer.narrow(0, offset, x.numel()).view(x.sizes()).clone());
    offset += x.numel();
  }
  return out;
}

class AllReduceMean : public torch::autograd::Function<AllReduceMean> {
 public:
  static variable_list forward(AutogradContext* ctx, at::TensorList xs, Communicator* comm) {
    ctx->saved_data["comm"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(comm));
    // The outputs' shapes ([ndim, d0, d1, ...] per tensor) and options, for
    // the zeros of outputs that receive no gradient.
    std::vector<int64_t> shapes;
    for (const auto& x : xs) {
      shapes.push_back(x.dim());
      for (auto d : x.sizes()) shapes.push_back(d);
    }
    ctx->saved_data["shapes"] = shapes;
    ctx->saved_data["like"] = at::empty({0}, xs[0].options());
    return average_flat(*comm, xs);
  }

  // dx^(r) = (1/W) Σ_s dy^(s): the same operation on the incoming gradients
  // (recorded when the backward runs with create_graph). An output that
  // received no gradient on this rank contributes zeros.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* comm = reinterpret_cast<Communicator*>(static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
    const auto shapes = ctx->saved_data["shapes"].toIntVector();
    const auto like = ctx->saved_data["like"].toTensor();
    size_t at = 0;
    for (auto& g : grads) {
      const auto ndim = static_cast<size_t>(shapes[at]);
      std::vector<int64_t> sizes(shapes.begin() + static_cast<std::ptrdiff_t>(at + 1),
                                 shapes.begin() + static_cast<std::ptrdiff_t>(at + 1 + ndim));
      at += 1 + ndim;
      if (!g.defined()) g = torch::zeros(sizes, like.options());
    }
    auto out = AllReduceMean::apply(at::TensorList(grads), comm);
    out.emplace_back();  // the communicator argument has no gradient
    return out;
  }
};

}  // namespace

std::vector<at::Tensor> all_reduce_mean(Communicator& comm, const std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return {};
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined())
      throw std::invalid_argument("all_reduce_mean: tensor " + std::to_string(i) + " is undefined");
    if (tensors[i].scalar_type() != tensors[0].scalar_type() || tensors[i].device() != tensors[0].device())
      throw std::invalid_argument("all_reduce_mean: every tensor needs the first one's dtype and device");
  }
  if (comm.size() == 1) return tensors;
  return AllReduceMean::apply(at::TensorList(tensors), &comm);
}

}  // namespace uda::comm
