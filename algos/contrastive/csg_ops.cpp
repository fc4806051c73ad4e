// CSG's tensor operations, following [csg] model/csg_builder.py (NVlabs/CSG
// 175ecdf) line by line; see csg_ops.h.
#include "algos/contrastive/csg_ops.h"

#include <torch/torch.h>

#include <stdexcept>

namespace uda::algos::contrastive {

at::Tensor chunk_feature(const at::Tensor& features, int64_t chunks) {
  if (chunks == 1) return features;
  // [csg] :13-18: torch.chunk along H, each piece along W, concatenated on
  // the batch axis in (row piece, column piece) order.
  std::vector<at::Tensor> out;
  for (const auto& rows : torch::chunk(features, chunks, 2))
    for (const auto& piece : torch::chunk(rows, chunks, 3)) out.push_back(piece);
  return torch::cat(out, 0);
}

at::Tensor attention_pool(const at::Tensor& features, const at::Tensor& attn_from) {
  if (features.sizes() != attn_from.sizes())
    throw std::invalid_argument("attention_pool: features and attention source differ in size");  // [csg] :125
  const auto n = features.size(0), c = features.size(1);
  // [csg] :128: a_nhw = Σ_c A_nchw · mean_hw(A)_nc.
  auto gap = torch::adaptive_avg_pool2d(attn_from, {1, 1}).view({n, c});
  auto attention = torch::einsum("nchw,nc->nhw", {attn_from, gap});
  // [csg] :129: divided by its sum over the positions of the sample.
  attention = attention / attention.view({n, -1}).sum(1).view({n, 1, 1});
  // [csg] :130-132: Σ_hw F_nchw a_nhw.
  return (features * attention.unsqueeze(1)).view({n, c, -1}).sum(2);
}

at::Tensor average_pool(const at::Tensor& features) {
  return torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1);
}

at::Tensor info_nce_logits(const at::Tensor& q, const at::Tensor& k, const at::Tensor& queue, double temperature) {
  auto l_pos = torch::einsum("nc,nc->n", {q, k}).unsqueeze(-1);  // [csg] :198
  auto l_neg = torch::einsum("nc,ck->nk", {q, queue.detach()});    // [csg] :200
  return torch::cat({l_pos, l_neg}, 1) / temperature;             // [csg] :202-204
}

QueueWrap queue_wrap_from_name(const std::string& name) {
  if (name == "official") return QueueWrap::Official;
  if (name == "fifo") return QueueWrap::Fifo;
  throw std::invalid_argument("unknown queue wrap '" + name + "'");
}

void enqueue(at::Tensor& queue, at::Tensor& ptr, const at::Tensor& keys, QueueWrap wrap) {
  torch::NoGradGuard no_grad;
  const int64_t k = queue.size(1), b = keys.size(0);
  if (b > k) throw std::invalid_argument("enqueue: more keys than the queue holds");
  const int64_t p = ptr[0].item<int64_t>();
  const auto cols = keys.t().to(queue.dtype());
  if (p + b <= k) {
    queue.narrow(1, p, b).copy_(cols);  // [csg] :115-116
  } else {
    const int64_t tail = k - p, head = p + b - k;
    queue.narrow(1, p, tail).copy_(cols.narrow(1, 0, tail));  // [csg] :118
    // [csg] :119 writes keys[:head] (the quirk); a ring buffer keys[tail:].
    queue.narrow(1, 0, head).copy_(cols.narrow(1, wrap == QueueWrap::Official ? 0 : tail, head));
  }
  ptr.fill_((p + b) % k);  // [csg] :120-121
}

}  // namespace uda::algos::contrastive
