// ERM for classification: DomainBed's baseline (algorithms.py:92-125). The
// training domains' batches are concatenated and the network — featurizer
// and classifier (models/classifiers/classifier.h) — is trained with the
// cross-entropy averaged over all of them, one optimizer over all
// parameters (DomainBed: Adam, lr 1e-3 for small images; optimizer.* keys).
// Without per-domain batches (one labelled source) it is the source-only
// classifier of UDA.
#include "algos/algorithm.h"
#include "algos/common/domain_batches.h"
#include "core/config.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <optional>

namespace uda::algos {

namespace {

class Erm : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    net_ = models::build_classifier(ctx.config());
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    update_.emplace(ctx.add_update("model", *net_, ctx.config().json()["optimizer"]));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = concat_domains(batch, ctx, "erm");
    net_->train();
    update_->zero_grad();
    models::SampleKeyScope keys(data.keys);
    // One mean over every domain's samples: the same count on every rank,
    // so the ranks' averaged gradient is the global batch's.
    auto loss = torch::nn::functional::cross_entropy(net_->forward(data.images), data.labels);
    Scalars s{{"loss", loss.item<double>()}};
    if (!ctx.check_loss("loss", loss)) return s;
    update_->backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  models::Classifier net_;
  std::optional<worker::Update> update_;
};

const AlgorithmRegistrar kRegister("erm", [] { return std::make_unique<Erm>(); });

}  // namespace
}  // namespace uda::algos
