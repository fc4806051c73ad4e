// MetaAlign (Wei, Lan, Zeng, Chen, "MetaAlign: Coordinating Domain Alignment
// and Classification for Unsupervised Domain Adaptation", CVPR 2021), after
// the official classification code: github.com/microsoft/UDA, commit
// 6398bd4, classification/train.py [ma], resnet.py [ma-net], utils.py
// [ma-utils], lr_scheduler.py.
//
// Each iteration one task is the meta-train task and the other the
// meta-test task, and the order flips every algorithm.metaalign_step
// iterations ([ma] :96-99, classification first at iteration 0):
//   classification first ([ma] :136-209): g = ∇ L_cls(θ) on the source batch;
//     θ' = θ − meta_lr · lr_group · g; total = L_cls(θ) + L_align(θ', φ);
//   alignment first ([ma] :210-286): g = ∇_θ L_align(θ, φ) on source + target;
//     θ' = θ − meta_lr · lr_group · g; total = L_align(θ, φ) + L_cls(θ');
// then one backward of `total` and one SGD step over the network θ and the
// domain discriminator φ. The official code detaches g ([ma] :156, :258:
// first order); algorithm.metaalign_order second keeps it (the exact
// gradient through the inner step). g is the global batch's (averaged over
// ranks, comm/differentiable_reduce.h); θ' is evaluated in place
// (models/layers/fast_weights.h).
//
// Alignment: a DANN domain discriminator (Ganin & Lempitsky, ICML 2015) on
// the network's features behind a gradient reversal layer, the discriminator
// of [ma-net] AdversarialNetwork (:278-333: Linear(D, 1024)-ReLU-Dropout(0.5)
// -Linear(1024, 1024)-ReLU-Dropout(0.5)-Linear(1024, 1), kaiming-normal
// weights, zero biases; reversal coefficient calc_coeff, [ma-utils] :92-93),
// source label 1, target 0 ([ma] loss.py:23), mean binary cross-entropy.
// The official code runs MetaAlign on GVB (gradually vanishing bridges and
// entropy-weighted adversarial loss, loss.py DA); those are not implemented
// here — MetaAlign's coordination applies to any alignment loss (paper §3.2),
// and this plugin uses the plain DANN loss. This minimal discriminator loss
// lives here until the alignment losses of algos/align/ (DANN, CORAL, MMD)
// are merged; the two are to be reconciled then.
#include "algos/algorithm.h"
#include "algos/meta/meta_common.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/classifiers/classifier.h"
#include "models/layers/fast_weights.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

namespace uda::algos {

namespace {
using config::Type;

const config::KeyRegistrar kKeys({
    {"algorithm.metaalign_order", Type::String, "first",
     "MetaAlign: first = the official code's first-order inner step (microsoft/UDA 6398bd4 "
     "classification/train.py:156, :258 detach the meta gradient); second = the exact gradient through the "
     "inner step.",
     false, {"first", "second"}},
    {"algorithm.metaalign_step", Type::Int, 1,
     "MetaAlign: iterations between flips of the meta-train/meta-test order; classification is the meta-train "
     "task first (train.py:96-99 and --step, :332, default 1)."},
    {"algorithm.metaalign_meta_lr", Type::Number, 1.0,
     "MetaAlign: inner step theta' = theta - meta_lr * lr * lr_mult * g with the current lr of the parameter's "
     "optimizer group (train.py:160, :262; --meta_lr :314 default 1; the README's Office-Home command uses 100)."},
    {"algorithm.metaalign_trade_off", Type::Number, 1.0,
     "MetaAlign: weight of the alignment loss (train.py:193, :247 trade_off; --trade_off :315, default 1)."},
    {"algorithm.metaalign_disc_hidden", Type::Int, 1024,
     "MetaAlign: width of the domain discriminator's hidden layers (resnet.py:353 AdversarialNetwork(in_dim, 1024))."},
    {"algorithm.metaalign_disc_dropout", Type::Number, 0.5,
     "MetaAlign: dropout after each hidden layer of the domain discriminator (resnet.py:288-289), drawn per "
     "sample."},
    {"algorithm.metaalign_grl_alpha", Type::Number, 10.0,
     "MetaAlign: gradient reversal coefficient 2 / (1 + exp(-alpha * i / max_iters)) - 1 at iteration i + 1 "
     "(utils.py:92-93 calc_coeff, alpha 10; resnet.py:297-301 counts the discriminator's training forwards)."},
    {"algorithm.metaalign_grl_max_iters", Type::Int, 10000,
     "MetaAlign: the max_iter of calc_coeff (utils.py:92, 10000)."},
});

// [ma-utils] calc_coeff(iter_num, high 1, low 0, alpha, max_iter).
double grl_coefficient(double alpha, double max_iters, int64_t iter_num) {
  return 2.0 / (1.0 + std::exp(-alpha * static_cast<double>(iter_num) / max_iters)) - 1.0;
}

// Gradient reversal: identity forward, −coeff × the gradient backward
// ([ma] torch_ops.py grl_hook), written with autograd operations so that it
// is differentiable again (second order): x.detach() + (x − x.detach())·(−c)
// has the value x exactly and the derivative −c.
at::Tensor reverse_gradient(const at::Tensor& x, double coeff) {
  const auto d = x.detach();
  return d + (x - d) * (-coeff);
}

// [ma-net] AdversarialNetwork without the GVB bridge.
class DomainDiscriminatorImpl : public torch::nn::Module {
 public:
  DomainDiscriminatorImpl(int64_t in, int64_t hidden, double dropout) : dropout_(dropout) {
    namespace nn = torch::nn;
    ad_layer1 = register_module("ad_layer1", nn::Linear(in, hidden));
    ad_layer2 = register_module("ad_layer2", nn::Linear(hidden, hidden));
    ad_layer3 = register_module("ad_layer3", nn::Linear(hidden, 1));
    // [ma-net] _init_params (:316-330): kaiming_normal_ weights (fan_in,
    // gain sqrt 2), zero biases.
    torch::NoGradGuard no_grad;
    for (auto* l : {ad_layer1.get(), ad_layer2.get(), ad_layer3.get()}) {
      torch::nn::init::kaiming_normal_(l->weight);
      l->bias.zero_();
    }
  }
  // Logits [N] of "source".
  at::Tensor forward(const at::Tensor& x) {
    auto y = models::sample_dropout(torch::relu(models::linear(*ad_layer1, x)), dropout_, is_training());
    y = models::sample_dropout(torch::relu(models::linear(*ad_layer2, y)), dropout_, is_training());
    return models::linear(*ad_layer3, y).squeeze(1);
  }

  torch::nn::Linear ad_layer1{nullptr}, ad_layer2{nullptr}, ad_layer3{nullptr};

 private:
  double dropout_;
};
TORCH_MODULE(DomainDiscriminator);

class MetaAlign : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    second_ = cfg.get<std::string>("algorithm.metaalign_order") == "second";
    step_ = cfg.get<int64_t>("algorithm.metaalign_step");
    meta_lr_ = cfg.get<double>("algorithm.metaalign_meta_lr");
    trade_off_ = cfg.get<double>("algorithm.metaalign_trade_off");
    grl_alpha_ = cfg.get<double>("algorithm.metaalign_grl_alpha");
    grl_max_iters_ = cfg.get<int64_t>("algorithm.metaalign_grl_max_iters");
    const auto hidden = cfg.get<int64_t>("algorithm.metaalign_disc_hidden");
    const auto dropout = cfg.get<double>("algorithm.metaalign_disc_dropout");
    if (!(meta_lr_ > 0.0))
      throw UserError("algorithm.metaalign_meta_lr is " + std::to_string(meta_lr_) + ", the inner step size must be > 0",
                      "algorithm.metaalign_meta_lr", "the official default is 1, its Office-Home command uses 100");
    if (step_ < 1)
      throw UserError("algorithm.metaalign_step is " + std::to_string(step_) + ", must be at least 1",
                      "algorithm.metaalign_step", "1 alternates the two orders every iteration (official default)");
    if (hidden < 1)
      throw UserError("algorithm.metaalign_disc_hidden must be positive", "algorithm.metaalign_disc_hidden", "e.g. 1024");
    if (!(dropout >= 0.0 && dropout < 1.0))
      throw UserError("algorithm.metaalign_disc_dropout must be in [0, 1)", "algorithm.metaalign_disc_dropout",
                      "0.5 as the official discriminator");
    if (grl_max_iters_ < 1)
      throw UserError("algorithm.metaalign_grl_max_iters must be positive", "algorithm.metaalign_grl_max_iters",
                      "10000 as the official calc_coeff");

    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    disc_ = DomainDiscriminator(net_->feature_dim(), hidden, dropout);
    disc_->to(ctx.device());
    ctx.track_module("discriminator", disc_.ptr());
    // [ma] :65-68: one SGD over the network's and the discriminator's
    // parameter groups; the lr multipliers come from optimizer.paramwise
    // (the official: backbone 1, fc 10, discriminator 10, every decay x2).
    worker::NamedParameters named;
    std::vector<at::Tensor> all;
    for (const auto& p : net_->named_parameters(true)) {
      named.emplace_back(p.key(), p.value());
      all.push_back(p.value());
    }
    for (const auto& p : disc_->named_parameters(true)) {
      named.emplace_back("discriminator." + p.key(), p.value());
      all.push_back(p.value());
    }
    params_ = meta::trainable_parameters(*net_);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], named);
    reducer_ = &ctx.add_reducer("model", all);
    groups_ = meta::optimizer_groups(*opt_, params_);
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto& src = batch.source;
    const auto& tgt = batch.target;
    if (!src.defined() || !src.labels.defined() || src.labels.dim() != 1)
      throw UserError("MetaAlign needs a labelled classification source batch", "data.source.path",
                      "convert a classification dataset (e.g. uda convert --format idx)");
    if (!tgt.defined())
      throw UserError("MetaAlign is unsupervised domain adaptation: it needs target images", "data.target.path",
                      "set data.target.path to the unlabelled target dataset");
    net_->train();
    disc_->train();
    opt_->zero_grad();
    const int64_t iter = ctx.iter();
    // [ma-net] :297-299: the discriminator's forward counter is i + 1 at
    // iteration i (one training forward per iteration).
    const double coeff = grl_coefficient(grl_alpha_, static_cast<double>(grl_max_iters_), iter + 1);
    // [ma] :96-99: step_flags flips at every multiple of `step`, starting
    // True: classification is the meta-train task in even periods.
    const bool cls_first = (iter / step_) % 2 == 0;

    auto classification = [&] {
      models::SampleKeyScope keys(ctx.sample_keys("metaalign/cls/source", src.indices));
      return torch::nn::functional::cross_entropy(net_->forward(src.images), src.labels);
    };
    // [ma] :172-187 (split off): one forward of source + target; the
    // discriminator on the features, behind the reversal layer.
    auto alignment = [&] {
      auto keys = ctx.sample_keys("metaalign/align/source", src.indices);
      const auto tkeys = ctx.sample_keys("metaalign/align/target", tgt.indices);
      keys.insert(keys.end(), tkeys.begin(), tkeys.end());
      models::SampleKeyScope scope(keys);
      const auto features = net_->features(torch::cat({src.images, tgt.images}));
      const auto logits = disc_->forward(reverse_gradient(features, coeff));
      const auto domain = torch::cat({torch::ones({src.images.size(0)}, logits.options()),
                                      torch::zeros({tgt.images.size(0)}, logits.options())});
      return torch::nn::functional::binary_cross_entropy_with_logits(logits, domain);
    };

    // Meta-train at θ, the inner step, meta-test at θ'.
    // [ma] :193, :247: the alignment loss enters weighted by trade_off.
    at::Tensor cls, align;
    const auto inner = cls_first ? (cls = classification()) : trade_off_ * (align = alignment());
    auto g = meta::gradients(inner, params_, /*create_graph=*/second_, /*retain_graph=*/true);
    std::vector<at::Tensor> fast(params_.size());
    {
      c10::optional<torch::NoGradGuard> first_order;
      if (!second_) first_order.emplace();
      g = meta::global_gradients(ctx, g);
    }
    for (size_t k = 0; k < params_.size(); ++k) {
      const bool held = groups_[k] != std::numeric_limits<size_t>::max();
      // [ma] :159-160 / :261-262: meta_lr * current_lr * (10 for fc) — the
      // group's scheduled lr with its multiplier.
      const double lr = held ? meta_lr_ * opt_->group_lr(groups_[k]) : 0.0;
      // First order: θ − (lr·g).detach(), the official param - meta_lr * ... * meta_grad.detach().
      fast[k] = params_[k] - lr * (second_ ? g[k] : g[k].detach());
    }
    at::Tensor outer;
    {
      models::FastWeights weights(params_, fast);
      outer = cls_first ? trade_off_ * (align = alignment()) : (cls = classification());
    }
    const auto total = inner + outer;  // [ma] :193, :272-275
    Scalars s{{"loss", total.item<double>()},
              {"loss_cls", cls.item<double>()},
              {"loss_align", align.item<double>()},
              {"grl_coeff", coeff},
              {"cls_first", cls_first ? 1.0 : 0.0}};
    if (!ctx.check_loss("loss", total)) return s;
    worker::Update(*opt_, *reducer_).backward_and_step(total);  // [ma] :207-209, :282-284
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  models::Classifier net_;
  DomainDiscriminator disc_{nullptr};
  std::vector<at::Tensor> params_;
  std::vector<size_t> groups_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
  bool second_ = false;
  int64_t step_ = 1;
  double meta_lr_ = 1.0, trade_off_ = 1.0, grl_alpha_ = 10.0;
  int64_t grl_max_iters_ = 10000;
};

const AlgorithmRegistrar kRegister("metaalign", [] { return std::make_unique<MetaAlign>(); });

}  // namespace
}  // namespace uda::algos
