// Pieces shared by the meta-learning plugins (MLDG, MetaAlign): gradients of
// an inner loss as tensors, their average over ranks (the global batch's
// inner gradient, comm/differentiable_reduce.h), and each parameter's
// learning rate and weight decay in the outer optimizer's groups.
#pragma once

#include "comm/differentiable_reduce.h"
#include "worker/optimizer_factory.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <limits>
#include <unordered_map>
#include <vector>

namespace uda::algos::meta {

// The trainable parameters of a network (requires_grad), in registration order.
inline std::vector<at::Tensor> trainable_parameters(torch::nn::Module& m) {
  std::vector<at::Tensor> out;
  for (const auto& p : m.parameters(true))
    if (p.requires_grad()) out.push_back(p);
  return out;
}

// d loss / d params as tensors (nothing accumulates in .grad); zeros for a
// parameter the loss does not reach. create_graph keeps the gradients
// differentiable (second order); retain_graph keeps the loss's graph for a
// later backward.
inline std::vector<at::Tensor> gradients(const at::Tensor& loss, const std::vector<at::Tensor>& params,
                                         bool create_graph, bool retain_graph) {
  auto gs = torch::autograd::grad({loss}, params, /*grad_outputs=*/{}, retain_graph || create_graph, create_graph,
                                  /*allow_unused=*/true);
  for (size_t i = 0; i < gs.size(); ++i)
    if (!gs[i].defined()) gs[i] = torch::zeros_like(params[i]);
  return gs;
}

// The gradient of the global batch: every rank's local gradient (of a loss
// that is a mean over its equally sized local batch) averaged over ranks, so
// that every rank steps its fast weights to the same θ'. Differentiable when
// the gradients carry a graph (second order); detached otherwise.
inline std::vector<at::Tensor> global_gradients(worker::TrainContext& ctx, const std::vector<at::Tensor>& local) {
  return comm::all_reduce_mean(ctx.comm(), local);
}

// Per parameter: the index of its group in `opt`, or SIZE_MAX when the
// optimizer does not hold it.
inline std::vector<size_t> optimizer_groups(worker::OptimizerBundle& opt, const std::vector<at::Tensor>& params) {
  std::unordered_map<const c10::TensorImpl*, size_t> group_of;
  auto& groups = opt.optimizer().param_groups();
  for (size_t g = 0; g < groups.size(); ++g)
    for (const auto& p : groups[g].params()) group_of[p.unsafeGetTensorImpl()] = g;
  std::vector<size_t> out;
  for (const auto& p : params) {
    auto it = group_of.find(p.unsafeGetTensorImpl());
    out.push_back(it == group_of.end() ? std::numeric_limits<size_t>::max() : it->second);
  }
  return out;
}

// The weight decay of group g (SGD, Adam, AdamW options).
inline double group_weight_decay(worker::OptimizerBundle& opt, size_t g) {
  auto& o = opt.optimizer().param_groups()[g].options();
  if (auto* a = dynamic_cast<torch::optim::AdamOptions*>(&o)) return a->weight_decay();
  if (auto* w = dynamic_cast<torch::optim::AdamWOptions*>(&o)) return w->weight_decay();
  if (auto* s = dynamic_cast<torch::optim::SGDOptions*>(&o)) return s->weight_decay();
  return 0.0;
}

}  // namespace uda::algos::meta
