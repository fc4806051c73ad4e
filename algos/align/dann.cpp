// The domain-adversarial family.
//
// dann, cdann: DomainBed's AbstractDANN (domainbed/algorithms.py:477-578,
// commit b93c22a), the DG form over the training domains' batches:
//  - a discriminator, DomainBed's MLP (networks.py:47-70; mlp_width,
//    mlp_depth, mlp_dropout; dropout before ReLU, drawn per sample) from the
//    featurizer's features to one logit per training domain (:496-497);
//    CDANN feeds it z + class_embeddings(y) (:522-525, Embedding(num_classes,
//    feature_dim), N(0, 1) init, :498-499);
//  - the discriminator loss: cross-entropy of the domain labels (DANN,
//    :537-538), or CDANN's class-balanced sum (:532-536), plus grad_penalty
//    times the mean squared norm of the gradient of the SUMMED cross-entropy
//    with respect to the discriminator input (:540-544, create_graph);
//  - update_count, a buffer incremented at the start of every update (:486,
//    :518), checkpointed ("dann.update_count"): a discriminator step iff
//    update_count % (1 + d_steps_per_g_step) < d_steps_per_g_step (:546-547),
//    else a generator step with gen_loss = CE(classifier(z), y) - lambda *
//    disc_loss (:553-562, gen_loss :556-557): the generator MAXIMISES the discriminator's loss
//    (no gradient reversal);
//  - two Adam optimizers with betas (beta1, 0.9): the discriminator's (and
//    class embeddings') with lr_d, weight_decay_d, the featurizer and
//    classifier's with lr_g, weight_decay_g (:502-514); one gradient
//    reducer each.
// The discriminator loss, its class counts (CDANN) and the penalty are over
// the GLOBAL batch: features, class labels, domain labels and sample slots
// of every rank are gathered (comm/differentiable.h), so W ranks x b compute
// what one rank computes on W*b. The discriminator's dropout keys are a
// function of (domain, global slot) of each gathered row.
// Deviations (docs/ALGORITHMS.md): in a discriminator step the features are
// computed without gradient (DomainBed computes featurizer gradients there
// and discards them at the next generator step's zero_grad: same update);
// in a generator step the discriminator's parameters do not accumulate the
// gradients DomainBed leaves in them (zeroed before the next
// discriminator step anyway).
//
// dann_grl: Ganin & Lempitsky (ICML 2015) in its UDA form, a labelled source
// and an unlabelled target: a domain classifier on the source and target
// features behind a gradient-reversal layer, loss = CE(source) + trade_off *
// domain loss, one optimizer (the config's optimizer section). As TLlib
// (tllib/alignment/dann.py DomainAdversarialLoss, tllib/modules/
// domain_discriminator.py DomainDiscriminator with batch_norm=True):
// Linear(D, h)-BatchNorm1d-ReLU-Linear(h, h)-BatchNorm1d-ReLU-Linear(h, 1)
// (the first two Linear layers without their bias, which the BatchNorm
// after them cancels),
// binary cross-entropy with source = 1, target = 0, 0.5 (mean_s + mean_t);
// the sigmoid is folded into the loss (binary_cross_entropy_with_logits).
// GRL coefficient 2 / (1 + exp(-gamma * i / N)) - 1: Ganin's schedule
// (gamma 10, N = train.max_iters, as Dassl) by default; "tllib":
// WarmStartGradientReverseLayer's defaults (alpha = gamma 1, N 1000,
// tllib/modules/grl.py). The discriminator sees the gathered global batch,
// so its BatchNorm statistics are the global batch's.
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
using config::Type;
using nlohmann::json;
namespace F = torch::nn::functional;

// DomainBed's hyper-parameters of DANN/CDANN (hparams_registry.py; the
// defaults are the small-image ones, the DG configs' datasets), under the
// names uda sweep maps them to (launcher/dg_hparams.cpp).
const config::KeyRegistrar kDannKeys({
    {"algorithm.lambda", Type::Number, 1.0,
     "dann/cdann: weight of -disc_loss in the generator loss (DomainBed hparams_registry.py:50 lambda; "
     "algorithms.py:556-557)."},
    {"algorithm.d_steps_per_g_step", Type::Int, 1,
     "dann/cdann: k discriminator steps per generator step: a discriminator step iff update_count % (1 + k) < k "
     "(hparams_registry.py:52; algorithms.py:546-547)."},
    {"algorithm.grad_penalty", Type::Number, 0.0,
     "dann/cdann: weight of the discriminator's input-gradient penalty (hparams_registry.py:53; "
     "algorithms.py:540-544)."},
    {"algorithm.beta1", Type::Number, 0.5,
     "dann/cdann: Adam beta1 of both optimizers, betas (beta1, 0.9) (hparams_registry.py:54; algorithms.py:505, "
     ":513)."},
    {"algorithm.mlp_width", Type::Int, 256,
     "dann/cdann: width of the discriminator MLP (hparams_registry.py:55; networks.py:47-70)."},
    {"algorithm.mlp_depth", Type::Int, 3,
     "dann/cdann: Linear layers of the discriminator MLP (hparams_registry.py:56; networks.py:51-55)."},
    {"algorithm.mlp_dropout", Type::Number, 0.0,
     "dann/cdann: dropout of the discriminator MLP, before each ReLU, drawn per sample (hparams_registry.py:57; "
     "networks.py:60-66)."},
    {"algorithm.lr_g", Type::Number, 1e-3,
     "dann/cdann: Adam lr of featurizer and classifier (hparams_registry.py:236 small images; 5e-5 big :238; "
     "algorithms.py:509-514)."},
    {"algorithm.lr_d", Type::Number, 1e-3,
     "dann/cdann: Adam lr of discriminator and class embeddings (hparams_registry.py:241 small images; 5e-5 big "
     ":243; algorithms.py:502-507)."},
    {"algorithm.weight_decay_g", Type::Number, 0.0,
     "dann/cdann: Adam (L2) weight decay of featurizer and classifier (hparams_registry.py:246/:248)."},
    {"algorithm.weight_decay_d", Type::Number, 0.0,
     "dann/cdann: Adam (L2) weight decay of discriminator and class embeddings (hparams_registry.py:51)."},
});

const config::KeyRegistrar kGrlKeys({
    {"algorithm.trade_off", Type::Number, 1.0,
     "dann_grl/dan/cwmmd: weight of the alignment loss added to the source cross-entropy (TLlib's --trade-off, "
     "default 1)."},
    {"algorithm.grl_schedule", Type::String, "progress",
     "dann_grl: GRL coefficient 2/(1+exp(-gamma*i/N))-1: progress = Ganin & Lempitsky's (gamma algorithm.grl_gamma, "
     "N = train.max_iters, as Dassl); tllib = WarmStartGradientReverseLayer's defaults (gamma 1, N "
     "algorithm.grl_max_iters).",
     false,
     {"progress", "tllib"}},
    {"algorithm.grl_gamma", Type::Number, 10.0, "dann_grl: gamma of the progress schedule (Ganin & Lempitsky: 10)."},
    {"algorithm.grl_max_iters", Type::Int, 1000,
     "dann_grl: N of the tllib schedule (tllib/modules/grl.py WarmStartGradientReverseLayer max_iters, 1000)."},
    {"algorithm.grl_hidden", Type::Int, 1024,
     "dann_grl: hidden width of the domain classifier (TLlib DomainDiscriminator hidden_size, 1024 in its "
     "examples)."},
});

json adam_section(double lr, double beta1, double weight_decay) {
  return {{"type", "adam"}, {"lr", lr}, {"betas", {beta1, 0.9}}, {"weight_decay", weight_decay}, {"eps", 1e-8},
          {"paramwise", json::object()}};
}

class Dann : public Algorithm {
 public:
  Dann(std::string name, bool conditional) : name_(std::move(name)), conditional_(conditional) {}

  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    num_domains_ = require_training_domains(ctx, name_);
    lambda_ = cfg.get<double>("algorithm.lambda");
    d_steps_ = cfg.get<int64_t>("algorithm.d_steps_per_g_step");
    grad_penalty_ = cfg.get<double>("algorithm.grad_penalty");
    if (d_steps_ < 1)
      throw UserError("algorithm.d_steps_per_g_step must be at least 1", "algorithm.d_steps_per_g_step",
                      "DomainBed draws 1..7");
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    disc_ = DomainBedMlp(net_->feature_dim(), num_domains_, cfg.get<int64_t>("algorithm.mlp_width"),
                         cfg.get<int64_t>("algorithm.mlp_depth"), cfg.get<double>("algorithm.mlp_dropout"));
    disc_->to(ctx.device());
    ctx.track_module("model", net_);
    ctx.track_module("discriminator", disc_.ptr());
    auto disc_params = named_params(*disc_, "discriminator.");
    if (conditional_) {
      embeddings_ = torch::nn::Embedding(net_->num_classes(), net_->feature_dim());
      embeddings_->to(ctx.device());
      ctx.track_module("class_embeddings", embeddings_.ptr());
      for (auto& p : named_params(*embeddings_, "class_embeddings.")) disc_params.push_back(p);
    }
    update_count_ = torch::zeros({1}, torch::TensorOptions().dtype(torch::kLong).device(ctx.device()));
    ctx.track_tensor("dann.update_count", update_count_, worker::Replication::Replicated);
    const double beta1 = cfg.get<double>("algorithm.beta1");
    opt_d_ = &ctx.add_optimizer(
        "discriminator",
        adam_section(cfg.get<double>("algorithm.lr_d"), beta1, cfg.get<double>("algorithm.weight_decay_d")),
        disc_params, true, "algorithm.lr_d");
    const auto gen_params = named_params(*net_);
    opt_g_ = &ctx.add_optimizer(
        "generator",
        adam_section(cfg.get<double>("algorithm.lr_g"), beta1, cfg.get<double>("algorithm.weight_decay_g")),
        gen_params, true, "algorithm.lr_g");
    reducer_d_ = &ctx.add_reducer("discriminator", tensors_of(disc_params));
    reducer_g_ = &ctx.add_reducer("generator", tensors_of(gen_params));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    update_count_.add_(1);
    const int64_t count = update_count_.item<int64_t>();
    const bool d_step = count % (1 + d_steps_) < d_steps_;
    const auto data = concat_domains(batch, ctx, name_);
    net_->train();
    disc_->train();
    set_requires_grad(*disc_, d_step);
    if (conditional_) set_requires_grad(*embeddings_, d_step);

    torch::Tensor z;
    {
      models::SampleKeyScope keys(data.keys);
      if (d_step) {
        torch::NoGradGuard no_grad;
        z = net_->features(data.images);
      } else {
        z = net_->features(data.images);
      }
    }
    // The global batch: every rank's rows.
    auto zg = gather_rows(ctx, z);
    auto yg = gather_rows(ctx, data.labels);
    auto dg = gather_rows(ctx, data.domains);
    auto sg = gather_rows(ctx, data.slots.to(data.domains.device()));
    auto z_in = d_step ? zg.detach().requires_grad_(true) : zg;
    auto disc_input = conditional_ ? z_in + embeddings_->forward(yg) : z_in;
    torch::Tensor disc_out;
    {
      models::SampleKeyScope keys(row_keys(ctx, name_ + "/discriminator", dg, sg));
      disc_out = disc_->forward(disc_input);
    }
    auto disc_loss = conditional_ ? cdann_balanced_loss(disc_out, dg, yg) : dann_discriminator_loss(disc_out, dg);
    auto penalty = dann_gradient_penalty(disc_out, dg, disc_input);
    disc_loss = disc_loss + grad_penalty_ * penalty;

    torch::Tensor class_loss;
    {
      torch::AutoGradMode grad(!d_step);
      class_loss = F::cross_entropy(net_->classify(z), data.labels);
    }
    auto gen_loss = class_loss - lambda_ * disc_loss;
    Scalars s{{"loss", class_loss.item<double>()},
              {"disc_loss", disc_loss.item<double>()},
              {"gen_loss", gen_loss.item<double>()},
              {"grad_penalty", penalty.item<double>()},
              {"d_step", d_step ? 1.0 : 0.0}};
    if (d_step) {
      opt_d_->zero_grad();
      if (!ctx.check_loss("disc_loss", disc_loss)) return s;
      reducer_d_->arm();
      disc_loss.backward();
      reducer_d_->finalize();
      opt_d_->clip_gradients();
      opt_d_->step();
    } else {
      opt_g_->zero_grad();
      if (!ctx.check_loss("gen_loss", gen_loss)) return s;
      reducer_g_->arm();
      gen_loss.backward();
      reducer_g_->finalize();
      opt_g_->clip_gradients();
      opt_g_->step();
    }
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  std::string name_;
  bool conditional_;
  int64_t num_domains_ = 0, d_steps_ = 1;
  double lambda_ = 1, grad_penalty_ = 0;
  models::Classifier net_;
  DomainBedMlp disc_{nullptr};
  torch::nn::Embedding embeddings_{nullptr};
  at::Tensor update_count_;
  worker::OptimizerBundle* opt_d_ = nullptr;
  worker::OptimizerBundle* opt_g_ = nullptr;
  comm::GradReducer* reducer_d_ = nullptr;
  comm::GradReducer* reducer_g_ = nullptr;
};

// TLlib's DomainDiscriminator (batch_norm=True) without the final sigmoid,
// and without the biases of the Linear layers that a BatchNorm follows:
// BatchNorm subtracts them again, so they never change an output and their
// gradient is 0 up to rounding (kept, they would only carry rounding noise,
// and weight decay of something that has no effect).
torch::nn::Sequential domain_classifier(int64_t in, int64_t hidden) {
  using torch::nn::LinearOptions;
  return torch::nn::Sequential(torch::nn::Linear(LinearOptions(in, hidden).bias(false)), torch::nn::BatchNorm1d(hidden),
                               torch::nn::ReLU(), torch::nn::Linear(LinearOptions(hidden, hidden).bias(false)),
                               torch::nn::BatchNorm1d(hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, 1));
}

class DannGrl : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    require_target(ctx, "dann_grl");
    trade_off_ = cfg.get<double>("algorithm.trade_off");
    if (cfg.get<std::string>("algorithm.grl_schedule") == "tllib") {
      gamma_ = 1.0;
      horizon_ = static_cast<double>(cfg.get<int64_t>("algorithm.grl_max_iters"));
    } else {
      gamma_ = cfg.get<double>("algorithm.grl_gamma");
      horizon_ = static_cast<double>(ctx.max_iters());
    }
    if (horizon_ <= 0)
      throw UserError("algorithm.grl_max_iters must be positive", "algorithm.grl_max_iters", "TLlib uses 1000");
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    disc_ = domain_classifier(net_->feature_dim(), cfg.get<int64_t>("algorithm.grl_hidden"));
    disc_->to(ctx.device());
    ctx.track_module("model", net_);
    ctx.track_module("domain_classifier", disc_.ptr());
    auto params = named_params(*net_);
    for (auto& p : named_params(*disc_, "domain_classifier.")) params.push_back(p);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], params);
    reducer_ = &ctx.add_reducer("model", tensors_of(params));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = source_and_target(batch, ctx, "dann_grl");
    net_->train();
    disc_->train();
    opt_->zero_grad();
    torch::Tensor z;
    {
      models::SampleKeyScope keys(data.keys);
      z = net_->features(data.images);
    }
    auto zs = z.narrow(0, 0, data.ns), zt = z.narrow(0, data.ns, data.nt);
    // Equal counts on every rank: the ranks' average is the global mean.
    auto class_loss = F::cross_entropy(net_->classify(zs), data.source_labels);
    auto zsg = gather_rows(ctx, zs), ztg = gather_rows(ctx, zt);
    const double coeff = grl_coefficient(ctx.iter(), gamma_, horizon_);
    auto d = disc_->forward(gradient_reverse(torch::cat({zsg, ztg}), coeff)).view({-1});
    auto ds = d.narrow(0, 0, zsg.size(0)), dt = d.narrow(0, zsg.size(0), ztg.size(0));
    auto domain_loss = 0.5 * (F::binary_cross_entropy_with_logits(ds, torch::ones_like(ds)) +
                              F::binary_cross_entropy_with_logits(dt, torch::zeros_like(dt)));
    auto loss = class_loss + trade_off_ * domain_loss;
    const double acc =
        0.5 * ((ds.detach() >= 0).to(torch::kDouble).mean().item<double>() +
               (dt.detach() < 0).to(torch::kDouble).mean().item<double>());
    Scalars s{{"loss", class_loss.item<double>()},
              {"domain_loss", domain_loss.item<double>()},
              {"domain_acc", acc},
              {"grl_coeff", coeff}};
    if (!ctx.check_loss("loss", loss)) return s;
    worker::Update(*opt_, *reducer_).backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  double trade_off_ = 1, gamma_ = 10, horizon_ = 1;
  models::Classifier net_;
  torch::nn::Sequential disc_{nullptr};
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
};

const AlgorithmRegistrar kDann("dann", [] { return std::make_unique<Dann>("dann", false); });
const AlgorithmRegistrar kCdann("cdann", [] { return std::make_unique<Dann>("cdann", true); });
const AlgorithmRegistrar kDannGrl("dann_grl", [] { return std::make_unique<DannGrl>(); });

}  // namespace
}  // namespace uda::algos::align
