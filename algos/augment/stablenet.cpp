// StableNet (Zhang et al., CVPR 2021; official code xxgege/StableNet [sn]):
// ERM whose cross-entropy is weighted per sample by weights learned, per
// batch, to decorrelate the random-Fourier features of the network's
// features (stablenet_weighting.h). [sn] training/train.py:50-71: features
// and logits from one forward, weights from weight_learner on the detached
// features and the saved memory, the memory written back, then
// loss = CE(x, y)^T softmax_weights (a weighted mean: the weights sum to 1)
// and one optimizer step.
//
// Over ranks: the weights are a function of the whole batch (covariances
// over it, softmax over it, memory rows matched to batch rows), so the inner
// loop runs on the GLOBAL batch: every rank gathers all rows' features
// (comm/differentiable.h all_gather_rows; no gradient flows through them),
// puts them in the canonical order of (domain, global slot) — the order of
// one rank's batch — and computes the same weights; each rank then weights
// its own rows. The random Fourier draws come from the step generator
// (shared by ranks). The memory ([sn] models/resnet_with_table.py:174-175
// pre_features / pre_weight1 buffers) is tracked, hence checkpointed.
#include "algos/algorithm.h"
#include "algos/augment/stablenet_weighting.h"
#include "algos/common/domain_batches.h"
#include "comm/differentiable.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <cmath>
#include <optional>

namespace uda::algos {

namespace {
using config::Type;

const config::KeyRegistrar kKeys({
    {"algorithm.stablenet_epochs", Type::Int, 20,
     "StableNet: SGD steps of the inner weight learning per batch ([sn] ops/config.py:79 epochb, default 20)."},
    {"algorithm.stablenet_lr", Type::Number, 1.0,
     "StableNet: initial lr of the inner weight SGD, x0.1 after half the steps ([sn] ops/config.py:73 lrbl, "
     "training/schedule.py:9)."},
    {"algorithm.stablenet_lambdap", Type::Number, 70.0,
     "StableNet: the decorrelation loss is divided by lambdap ([sn] ops/config.py:76, default 70)."},
    {"algorithm.stablenet_decay_pow", Type::Number, 2.0,
     "StableNet: power of the softmax weights' penalty sum w^p ([sn] ops/config.py:106 decay_pow, default 2)."},
    {"algorithm.stablenet_num_f", Type::Int, 1,
     "StableNet: random Fourier frequencies per feature ([sn] ops/config.py:70 num_f, default 1)."},
    {"algorithm.stablenet_presave_ratio", Type::Number, 0.9,
     "StableNet: memory update memory*r + batch*(1-r) ([sn] ops/config.py:127 presave_ratio, default 0.9)."},
    {"algorithm.stablenet_warmup_steps", Type::Int, 10,
     "StableNet: the first N steps of the run average the memory instead ([sn] training/reweighting.py:34: "
     "the first epoch's first 10 batches)."},
});

class StableNet : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    opt_.epochs = cfg.get<int64_t>("algorithm.stablenet_epochs");
    opt_.lr = cfg.get<double>("algorithm.stablenet_lr");
    opt_.lambdap = cfg.get<double>("algorithm.stablenet_lambdap");
    opt_.decay_pow = cfg.get<double>("algorithm.stablenet_decay_pow");
    opt_.num_f = cfg.get<int64_t>("algorithm.stablenet_num_f");
    opt_.presave_ratio = cfg.get<double>("algorithm.stablenet_presave_ratio");
    warmup_ = cfg.get<int64_t>("algorithm.stablenet_warmup_steps");
    if (opt_.epochs < 0)
      throw UserError("algorithm.stablenet_epochs is " + std::to_string(opt_.epochs) + ", must be >= 0",
                      "algorithm.stablenet_epochs", "set it to the official 20 (or 0 for uniform weights)");
    if (opt_.num_f < 1)
      throw UserError("algorithm.stablenet_num_f is " + std::to_string(opt_.num_f) + ", must be >= 1",
                      "algorithm.stablenet_num_f", "set it to the official 1");
    if (!(opt_.lambdap > 0))
      throw UserError("algorithm.stablenet_lambdap must be > 0", "algorithm.stablenet_lambdap",
                      "set it to the official 70");
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    update_.emplace(ctx.add_update("model", *net_, cfg.json()["optimizer"]));
    // The memory holds one global batch ([sn] n_feature = the batch size
    // 128, ops/config.py:82): the same whatever the number of ranks.
    const int64_t domains = std::max<int64_t>(1, static_cast<int64_t>(ctx.data_info().training_domains.size()));
    const int64_t rows = cfg.get<int64_t>("data.batch_per_rank") * ctx.world_size() * domains;
    auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(ctx.device());
    memory_features_ = torch::zeros({rows, net_->feature_dim()}, f32);
    memory_weights_ = torch::ones({rows, 1}, f32);
    ctx.track_tensor("stablenet.memory_features", memory_features_, worker::Replication::Replicated);
    ctx.track_tensor("stablenet.memory_weights", memory_weights_, worker::Replication::Replicated);
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = concat_domains(batch, ctx, "stablenet");
    net_->train();
    update_->zero_grad();
    models::SampleKeyScope keys(data.keys);
    auto features = net_->features(data.images);
    auto logits = net_->classify(features);
    const int64_t n = features.size(0);

    // The global batch in canonical (domain, slot) order.
    auto& comm = ctx.comm();
    auto order_key = (data.domains.to(torch::kCPU).to(torch::kLong) * (int64_t{1} << 40) + data.slots).to(ctx.device());
    auto owner = torch::full({n}, static_cast<int64_t>(ctx.rank()), order_key.options());
    auto all_features = comm::all_gather_rows(comm, features.detach());
    auto all_keys = comm::all_gather_rows(comm, order_key);
    auto all_owner = comm::all_gather_rows(comm, owner);
    auto perm = std::get<1>(all_keys.sort(0));
    const int64_t total = all_features.size(0);
    if (total > memory_features_.size(0))
      throw UserError("StableNet's global batch (" + std::to_string(total) + " rows) exceeds its memory (" +
                          std::to_string(memory_features_.size(0)) + ")",
                      "data.batch_per_rank", "keep the global batch fixed over a run");

    auto gen = ctx.step_generator("stablenet/rff");
    const int64_t dim = all_features.size(1);
    auto draw = [&](int64_t) {
      // [sn] loss_reweighting.py:40-41 (sigma 1): w = randn(num_f, 1), b = 2 pi rand(r, num_f).
      stablenet::RffDraw d;
      d.w = torch::randn({opt_.num_f, 1}, gen, torch::kFloat32).to(ctx.device());
      d.b = (2 * M_PI * torch::rand({dim, opt_.num_f}, gen, torch::kFloat32)).to(ctx.device());
      return d;
    };
    const int64_t warm = ctx.iter() < warmup_ ? ctx.iter() : -1;
    auto r = stablenet::learn_weights(all_features.index_select(0, perm).to(torch::kFloat32), memory_features_,
                                      memory_weights_, opt_, draw, warm);
    {
      torch::NoGradGuard no_grad;
      memory_features_.copy_(r.memory_features);
      memory_weights_.copy_(r.memory_weights);
    }
    auto gathered_weights = torch::empty({total}, r.weights.options());
    gathered_weights.index_put_({perm}, r.weights);
    auto mine = gathered_weights.masked_select(all_owner == static_cast<int64_t>(ctx.rank()));

    // [sn] train.py:63: CE(x, y) (per sample) . softmax weights, over the
    // global batch: this rank's part x W, the reducer averages over W.
    auto ce = torch::nn::functional::cross_entropy(
        logits, data.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto loss = (ce * mine.to(ce.dtype())).sum() * static_cast<double>(ctx.world_size());
    Scalars s{{"loss", loss.item<double>()},
              {"weight_max", r.weights.max().item<double>() * static_cast<double>(total)},
              {"ce_mean", ce.mean().item<double>()}};
    if (!ctx.check_loss("loss", loss)) return s;
    update_->backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  stablenet::Options opt_;
  int64_t warmup_ = 10;
  models::Classifier net_;
  std::optional<worker::Update> update_;
  at::Tensor memory_features_, memory_weights_;
};

const AlgorithmRegistrar kRegister("stablenet", [] { return std::make_unique<StableNet>(); });

}  // namespace
}  // namespace uda::algos
