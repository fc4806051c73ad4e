// CSG, Contrastive Syn-to-Real Generalization (Chen et al., ICLR 2021),
// classification: the official recipe of github.com/NVlabs/CSG (commit
// 175ecdf; model/csg_builder.py [csg], train.py [train]).
//
// Query network: the trained classifier (featurizer + task head, model.*)
// and, per selected stage s (ResNet layer s; default 3 and 4), a projection
// head Linear(C_s, C_s)-ReLU-Linear(C_s, 128) [csg :55-70]. Key network:
// the frozen pretrained featurizer (never trained) with its own heads,
// copies of the query's at start and an EMA of them (m = 0.999) updated once
// per step before the keys are computed [csg :99-104, :153-154].
// Per step and stage: q = normalize(head_q(A-Pool(F_q(x_q)))), k =
// normalize(head_k(A-Pool_{F_q(x_k)}(F_k(x_k)))) — the key map is pooled
// with the attention of the QUERY network's features of the key view
// [csg :155-157, :185] — logits [q·k, q·queue] / T, InfoNCE = cross-entropy
// with target 0 (mean over the rank's query rows: equal counts on every
// rank, so the reducer's average is the global mean), loss = task CE +
// w Σ_s InfoNCE_s [train :242-252]. The step's keys of every rank are then
// gathered and enqueued: the queue [128, K] is identical on every rank and
// equals the queue one rank with the global batch builds (rows put in the
// global batch's order: training domain, then global sample slot).
//
// Two views (csg_views.h): RandAugment(1, 6) of the loader's image, drawn
// per sample; the task loss is on the query view [train :239-242].
#include "algos/algorithm.h"
#include "algos/common/domain_batches.h"
#include "algos/contrastive/csg_model.h"
#include "algos/contrastive/csg_views.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

namespace uda::algos::contrastive {

namespace {

namespace F = torch::nn::functional;

class Csg : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    options_ = csg_options(cfg, /*segmentation=*/false);
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    const auto channels = stage_channels_of(net_->stage_channels(), options_, cfg.get<std::string>("model.backbone.type"));
    // The key featurizer: the query's initial (pretrained) weights, or the
    // file of algorithm.csg_key_backbone.
    key_ = models::build_classifier(models::model_spec(cfg));
    copy_state(*net_, *key_);
    if (!options_.key_backbone.empty()) load_key_backbone(*key_, options_.key_backbone, cfg.get<int64_t>("model.in_channels"));
    freeze(*key_);
    key_->to(ctx.device());
    key_->eval();
    ctx.track_module("csg_key", key_);
    branch_ = std::make_unique<ContrastiveBranch>(options_, channels, ctx);
    auto params = named_parameters(*net_, "");
    if (apply_train_heads(options_, *branch_->query_heads()))
      for (auto& p : named_parameters(*branch_->query_heads(), "csg_heads.")) params.push_back(p);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], params);
    std::vector<at::Tensor> tensors;
    for (auto& kv : params) tensors.push_back(kv.second);
    reducer_ = &ctx.add_reducer("model", tensors);
    norm_ = pixel_normalization(cfg, "source");
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = concat_domains(batch, ctx, "csg");
    // [train :231-234] the query and the key view of every sample.
    const auto im_q = rand_augment_rows(data.images, row_keys(ctx, "csg/view_q", data.domains, data.slots),
                                        options_.randaug_n, options_.randaug_m, norm_);
    const auto im_k = rand_augment_rows(data.images, row_keys(ctx, "csg/view_k", data.domains, data.slots),
                                        options_.randaug_n, options_.randaug_m, norm_);
    net_->train();
    key_->eval();
    opt_->zero_grad();
    branch_->momentum_update();  // [csg :153-154] before the keys
    std::vector<at::Tensor> maps_q, maps_qk, maps_k;
    at::Tensor logits;
    {
      models::SampleKeyScope keys(data.keys);
      logits = net_->classify(net_->features(im_q, &maps_q));
    }
    {
      torch::NoGradGuard no_grad;
      if (options_.apool) {  // [csg :155-157] the query network's maps of the key view
        models::SampleKeyScope keys(row_keys(ctx, "csg/key_view", data.domains, data.slots));
        net_->features(im_k, &maps_qk);
      }
      key_->features(im_k, &maps_k);  // [csg :158]
    }
    auto task = F::cross_entropy(logits, data.labels);  // [train :242]
    const auto out = branch_->losses(maps_q, maps_qk, maps_k, data.domains, data.slots);
    auto loss = task + options_.weight * out.total;  // [train :252]
    Scalars s{{"loss", task.item<double>()}};
    for (size_t i = 0; i < out.per_stage.size(); ++i)
      s.emplace_back("csg_layer" + std::to_string(options_.stages[i]), out.per_stage[i].item<double>());
    if (ctx.check_loss("loss", loss)) {
      worker::Update(*opt_, *reducer_).backward_and_step(loss);
    }
    // [csg :207] the keys join the queues (after the backward, which reads
    // the queues as the logits saw them; the official code clones them).
    branch_->enqueue_step_keys(ctx);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  CsgOptions options_;
  models::Classifier net_, key_;
  std::unique_ptr<ContrastiveBranch> branch_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
  PixelNormalization norm_;
};

const AlgorithmRegistrar kRegister("csg", [] { return std::make_unique<Csg>(); });

}  // namespace
}  // namespace uda::algos::contrastive
