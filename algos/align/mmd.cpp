// mmd, coral: DomainBed's AbstractMMD (domainbed/algorithms.py:973-1068,
// commit b93c22a), an ERM over the training domains' batches plus a
// penalty that matches the domains' feature distributions pairwise:
//  - features of each training domain's batch (a forward per domain, as
//    DomainBed's update does, :1028, so that BatchNorm sees one domain at a
//    time), logits from the classifier;
//  - objective = the mean over domains of each domain's mean cross-entropy
//    (:1032-1037);
//  - penalty = sum over domain pairs i < j of mmd(f_i, f_j) divided by the
//    number of pairs (:1034-1039): MMD with the 7 Gaussian kernels
//    exp(-g ||x - y||^2), g in {1e-3, ..., 1e3}, biased estimate
//    (:986-1009), or CORAL = mean squared mean difference + mean squared
//    covariance difference, unbiased covariances (:1010-1021);
//  - loss = objective + mmd_gamma * penalty, one Adam (the config's
//    optimizer section: DomainBed's lr, weight_decay) (:1041-1043); logged
//    loss = objective, penalty (:1048).
// The penalty is computed on the GLOBAL batch: every rank's per-domain
// features are gathered (comm/differentiable.h), so W ranks x b per domain
// compute the penalty of W*b rows per domain. Each rank's per-domain means
// of the cross-entropy are over the same number of rows, so the reducer's
// average of their gradients is the global batch's.
//
// UDA (a labelled data.source, an unlabelled data.target, no per-domain
// batches): the same penalty between the two streams, the objective the
// source's cross-entropy alone. With the CORAL kernel this is TLlib's
// CORAL for UDA (tllib/alignment/coral.py CorrelationAlignmentLoss: the
// mean squared difference of the means plus that of the unbiased
// covariances — DomainBed's formula); Deep CORAL's paper form (Sun &
// Saenko 2016, Eq. 1: the covariance term alone, as ||C_S - C_T||_F^2 /
// (4 d^2)) differs by the mean term and a constant factor. With the Gaussian
// kernels it is DomainBed's MMD between source and target (DAN's
// multi-kernel MMD with batch-adaptive bandwidths is the `dan` plugin).
#include "algos/align/common.h"
#include "algos/align/losses.h"
#include "algos/common/domain_batches.h"
#include "core/config.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/classifiers/classifier.h"
#include "models/layers/sample_randomness.h"

#include <torch/torch.h>

namespace uda::algos::align {

namespace {
namespace F = torch::nn::functional;

const config::KeyRegistrar kKeys({
    {"algorithm.mmd_gamma", config::Type::Number, 1.0,
     "mmd/coral: weight of the penalty (between training-domain pairs, or between data.source and data.target "
     "for UDA), not a kernel width (DomainBed hparams_registry.py:100-101 mmd_gamma; algorithms.py:1042)."},
});

class AbstractMmd : public Algorithm {
 public:
  AbstractMmd(std::string name, PairKernel kernel) : name_(std::move(name)), kernel_(kernel) {}

  void setup(worker::TrainContext& ctx) override {
    const auto& info = ctx.data_info();
    uda_ = info.training_domains.empty() && !info.target.path.empty();
    if (uda_)
      require_target(ctx, name_);
    else
      num_domains_ = require_training_domains(ctx, name_);
    gamma_ = ctx.config().get<double>("algorithm.mmd_gamma");
    net_ = models::build_classifier(ctx.config());
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    const auto params = named_params(*net_);
    opt_ = &ctx.add_optimizer("model", ctx.config().json()["optimizer"], params);
    reducer_ = &ctx.add_reducer("model", tensors_of(params));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    return uda_ ? source_target_step(batch, ctx) : domains_step(batch, ctx);
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  // DG: one batch per training domain, the penalty over domain pairs.
  Scalars domains_step(const Batch& batch, worker::TrainContext& ctx) {
    const auto data = concat_domains(batch, ctx, name_);
    const auto n = static_cast<int64_t>(data.sizes.size());
    if (n != num_domains_)
      throw std::logic_error(name_ + ": " + std::to_string(n) + " domain batches, " + std::to_string(num_domains_) +
                             " training domains");
    net_->train();
    opt_->zero_grad();
    std::vector<torch::Tensor> features;
    auto objective = torch::zeros({}, data.images.options());
    int64_t offset = 0;
    for (int64_t d = 0; d < n; ++d) {
      const int64_t rows = data.sizes[static_cast<size_t>(d)];
      std::vector<uint64_t> keys(data.keys.begin() + offset, data.keys.begin() + offset + rows);
      torch::Tensor f;
      {
        models::SampleKeyScope scope(std::move(keys));
        f = net_->features(data.images.narrow(0, offset, rows));
      }
      objective = objective + F::cross_entropy(net_->classify(f), data.labels.narrow(0, offset, rows));
      features.push_back(f);
      offset += rows;
    }
    objective = objective / static_cast<double>(n);
    auto fg = gather_rows(ctx, torch::cat(features));
    auto dg = gather_rows(ctx, data.domains);
    if (kernel_ == PairKernel::MeanCov)
      for (int64_t d = 0; d < n; ++d)
        require_global_rows((dg == d).sum().item<int64_t>(), name_, "training domain " + std::to_string(d));
    return finish(objective, pairwise_domain_penalty(fg, dg, n, kernel_), ctx);
  }

  // UDA: the source's cross-entropy, the penalty between the global batch's
  // source rows and its target rows (each stream forwarded on its own, as
  // the DG path forwards each domain).
  Scalars source_target_step(const Batch& batch, worker::TrainContext& ctx) {
    const auto data = source_and_target(batch, ctx, name_);
    net_->train();
    opt_->zero_grad();
    auto forward = [&](int64_t offset, int64_t rows) {
      models::SampleKeyScope scope(
          std::vector<uint64_t>(data.keys.begin() + offset, data.keys.begin() + offset + rows));
      return net_->features(data.images.narrow(0, offset, rows));
    };
    auto fs = forward(0, data.ns);
    auto ft = forward(data.ns, data.nt);
    auto objective = F::cross_entropy(net_->classify(fs), data.source_labels);
    auto fg = gather_rows(ctx, torch::cat({fs, ft}));
    auto ids = torch::cat({torch::zeros({data.ns}, torch::kLong), torch::ones({data.nt}, torch::kLong)})
                   .to(data.images.device());
    auto dg = gather_rows(ctx, ids);
    if (kernel_ == PairKernel::MeanCov) {
      require_global_rows((dg == 0).sum().item<int64_t>(), name_, "source");
      require_global_rows((dg == 1).sum().item<int64_t>(), name_, "target");
    }
    return finish(objective, pairwise_domain_penalty(fg, dg, 2, kernel_), ctx);
  }

  Scalars finish(const at::Tensor& objective, const at::Tensor& penalty, worker::TrainContext& ctx) {
    auto loss = objective + gamma_ * penalty;
    Scalars s{{"loss", objective.item<double>()}, {"penalty", penalty.item<double>()}};
    if (!ctx.check_loss("loss", loss)) return s;
    worker::Update(*opt_, *reducer_).backward_and_step(loss);
    return s;
  }

  std::string name_;
  bool uda_ = false;
  PairKernel kernel_;
  int64_t num_domains_ = 0;
  double gamma_ = 1;
  models::Classifier net_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
};

const AlgorithmRegistrar kMmd("mmd", [] { return std::make_unique<AbstractMmd>("mmd", PairKernel::Gaussian); });
const AlgorithmRegistrar kCoral("coral", [] { return std::make_unique<AbstractMmd>("coral", PairKernel::MeanCov); });

}  // namespace
}  // namespace uda::algos::align
