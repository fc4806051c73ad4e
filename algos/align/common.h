// Pieces shared by the feature-alignment plugins (algos/align/): the
// requirements they check at setup (one-line UserErrors naming the key and
// the fix), the UDA source + target batch, and the global batch
// (comm/differentiable.h).
#pragma once

#include "algos/algorithm.h"
#include "comm/differentiable.h"
#include "core/error.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace uda::algos::align {

inline worker::NamedParameters named_params(torch::nn::Module& m, const std::string& prefix = "") {
  worker::NamedParameters out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(prefix + p.key(), p.value());
  return out;
}

inline std::vector<at::Tensor> tensors_of(const worker::NamedParameters& np) {
  std::vector<at::Tensor> out;
  for (const auto& kv : np) out.push_back(kv.second);
  return out;
}

inline void set_requires_grad(torch::nn::Module& m, bool on) {
  for (auto& p : m.parameters()) p.set_requires_grad(on);
}

// The number of training domains of a DG method that compares domains
// (pairs of domains, or a domain discriminator): at least 2, from the
// training data (data.source.per_domain_batches and data.test_domains).
inline int64_t require_training_domains(const worker::TrainContext& ctx, const std::string& algo) {
  const auto& info = ctx.data_info();
  const auto n = static_cast<int64_t>(info.training_domains.size());
  if (n >= 2) return n;
  if (n == 0)
    throw UserError(algo + " compares training domains and needs one batch per domain",
                    "data.source.per_domain_batches",
                    "set data.source.per_domain_batches=true on a multi-domain data.source (configs/dg/), or use a "
                    "source/target method (dann_grl, dan, cwmmd, mmd, coral) with data.target.path");
  throw UserError(algo + " compares training domains but data.test_domains leaves 1 (" + info.training_domains[0] +
                      ") of data.source's domains for training",
                  "data.test_domains", "hold out fewer domains so that at least 2 are trained on, or use erm");
}

// UDA methods: labelled source and unlabelled target batches.
inline void require_target(const worker::TrainContext& ctx, const std::string& algo) {
  if (ctx.data_info().target.path.empty())
    throw UserError(algo + " aligns a labelled source with an unlabelled target, and no target is given",
                    "data.target.path", "set data.target.path to the converted target domain");
  if (!ctx.data_info().training_domains.empty())
    throw UserError(algo + " takes one source batch, not per-domain batches", "data.source.per_domain_batches",
                    "set data.source.per_domain_batches=false (DG methods: dann, cdann, mmd, coral)");
}

// One step's labelled source and unlabelled target rows, side by side:
// images = [source; target], per-sample keys of both streams.
struct SourceTarget {
  at::Tensor images;
  at::Tensor source_labels;  // int64 [ns]
  int64_t ns = 0, nt = 0;
  std::vector<uint64_t> keys;
};

inline SourceTarget source_and_target(const Batch& batch, const worker::TrainContext& ctx, const std::string& stream) {
  const auto& s = batch.source;
  const auto& t = batch.target;
  if (!s.defined() || !s.labels.defined() || s.labels.dim() != 1)
    throw UserError("a classification algorithm needs labelled class ids in the source", "data.source.path",
                    "convert a classification dataset (e.g. uda convert --format idx)");
  if (!t.defined()) throw UserError("no target batch", "data.target.path", "set data.target.path");
  SourceTarget out;
  out.ns = s.images.size(0);
  out.nt = t.images.size(0);
  out.images = torch::cat({s.images, t.images});
  out.source_labels = s.labels;
  out.keys = ctx.sample_keys(stream + "/source", s.indices);
  const auto tk = ctx.sample_keys(stream + "/target", t.indices);
  out.keys.insert(out.keys.end(), tk.begin(), tk.end());
  return out;
}

// A discrepancy between two sets of rows needs at least 2 rows per set in
// the global batch (unbiased covariances, U-statistics).
inline void require_global_rows(int64_t rows, const std::string& algo, const std::string& what) {
  if (rows < 2)
    throw UserError(algo + " needs at least 2 " + what + " rows in the global batch, and it has " +
                        std::to_string(rows),
                    "data.batch_per_rank", "use a larger batch (or more ranks)");
}

// The global batch's rows of `x` (every rank's, in rank order).
inline at::Tensor gather_rows(worker::TrainContext& ctx, const at::Tensor& x) {
  return comm::all_gather_rows(ctx.comm(), x);
}

}  // namespace uda::algos::align
