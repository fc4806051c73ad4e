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
  std::vector<at::Tensor> images, labels, domains;
  for (size_t d = 0; d < parts.size(); ++d) {
    const DomainBatch& p = *parts[d];
    if (!p.defined() || !p.labels.defined() || p.labels.dim() != 1)
      throw UserError("a classification algorithm needs labelled class ids for every training domain",
                      "data.source.path", "convert a classification dataset (e.g. uda convert --format idx)");
    images.push_back(p.images);
    labels.push_back(p.labels);
    domains.push_back(torch::full({p.images.size(0)}, static_cast<int64_t>(d), p.labels.options()));
    out.sizes.push_back(p.images.size(0));
    const auto keys = ctx.sample_keys(stream + "/domain" + std::to_string(d), p.indices);
    out.keys.insert(out.keys.end(), keys.begin(), keys.end());
  }
  out.images = images.size() == 1 ? images[0] : torch::cat(images);
  out.labels = labels.size() == 1 ? labels[0] : torch::cat(labels);
  out.domains = domains.size() == 1 ? domains[0] : torch::cat(domains);
  return out;
}

}  // namespace uda::algos
