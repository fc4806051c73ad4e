#include "algos/common/domain_batches.h"

#include "core/error.h"
#include "worker/train_context.h"

#include <torch/torch.h>

namespace uda::algos {

DomainBatches concat_domains(const Batch& batch, const worker::TrainContext& ctx, const std::string& stream) {
  std::vector<const DomainBatch*> parts;
  for (const auto& d : batch.domains) parts.push_back(&d);
  if (parts.empty()) parts.push_back(&batch.source);
  DomainBatches out;
  std::vector<at::Tensor> images, labels, domains, slots;
  for (size_t d = 0; d < parts.size(); ++d) {
    const DomainBatch& p = *parts[d];
    if (!p.defined() || !p.labels.defined() || p.labels.dim() != 1)
      throw UserError("a classification algorithm needs labelled class ids for every training domain",
                      "data.source.path", "convert a classification dataset (e.g. uda convert --format idx)");
    images.push_back(p.images);
    labels.push_back(p.labels);
    domains.push_back(torch::full({p.images.size(0)}, static_cast<int64_t>(d), p.labels.options()));
    out.sizes.push_back(p.images.size(0));
    slots.push_back(p.indices.to(torch::kCPU).to(torch::kLong));
    const auto keys = ctx.sample_keys(stream + "/domain" + std::to_string(d), p.indices);
    out.keys.insert(out.keys.end(), keys.begin(), keys.end());
  }
  out.images = images.size() == 1 ? images[0] : torch::cat(images);
  out.labels = labels.size() == 1 ? labels[0] : torch::cat(labels);
  out.domains = domains.size() == 1 ? domains[0] : torch::cat(domains);
  out.slots = slots.size() == 1 ? slots[0] : torch::cat(slots);
  return out;
}

std::vector<uint64_t> row_keys(const worker::TrainContext& ctx, const std::string& stream, const at::Tensor& domains,
                               const at::Tensor& slots) {
  auto d = domains.to(torch::kCPU).to(torch::kLong).contiguous();
  auto s = slots.to(torch::kCPU).to(torch::kLong).contiguous();
  std::vector<uint64_t> keys(static_cast<size_t>(d.numel()));
  if (keys.empty()) return keys;
  // One sample_keys call per domain, scattered back to the rows.
  const int64_t last = d.max().item<int64_t>();
  for (int64_t k = d.min().item<int64_t>(); k <= last; ++k) {
    auto rows = (d == k).nonzero().flatten();
    if (rows.numel() == 0) continue;
    const auto part = ctx.sample_keys(stream + "/domain" + std::to_string(k), s.index_select(0, rows));
    const int64_t* r = rows.data_ptr<int64_t>();
    for (size_t i = 0; i < part.size(); ++i) keys[static_cast<size_t>(r[i])] = part[i];
  }
  return keys;
}

}  // namespace uda::algos
