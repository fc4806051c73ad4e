// DIAL: Domain Invariant Adversarial Learning (Levi, Attias, Levy & Shamir,
// TMLR 2022, arXiv 2104.00322; official code matanle51/DIAL 275c7e0 [dial]).
//
// Adversarial training seen as domain adaptation: the "source" domain is the
// natural images, the "target" domain the same images attacked by PGD
// (algos/adversarial/pgd.h, [dial] dial.py dial_loss :24-50, distance
// linf_ce: ascent on the classification loss in the eps-ball, the network in
// eval mode during the attack). A domain classifier behind a gradient
// reversal layer (algos/align/losses.h gradient_reverse) tells natural (0)
// from adversarial (1) features, which makes them indistinguishable:
//   loss = CE(f(x), y) + domain_ratio * CE(d(GRL(z)), 0)                    [dial] :60-63
//        + beta * CE(f(x_adv), y) + domain_ratio * CE(d(GRL(z_adv)), 1)    [dial] :70-72
// with the GRL coefficient 2 / (1 + exp(-10 p)) - 1, p the training
// progress ([dial] train_utils.py adjust_alpha). One optimizer over the
// network and the domain classifier (the config's optimizer section; [dial]
// train_dial_mnist.py: SGD, lr 0.01, momentum 0.9).
// Hyper-parameter defaults: [dial] train_dial_mnist.py (eps 0.3, 40 steps of
// 0.01, beta 6.0, domain loss ratio 0.1).
// The attack runs inside the step on each rank's rows; the random start
// (0.001 N(0, 1) per pixel, [dial] :27) is drawn from each sample's own
// generator (domain, global slot), so W ranks x b attack exactly as 1 rank x
// W*b.
// Deviations (docs/ALGORITHMS.md): the domain classifier is DomainBed's MLP
// Linear(D, 100)-ReLU-Linear(100, 2) (algos/align/losses.h DomainBedMlp),
// without [dial]'s BatchNorm1d after the first Linear (models/SmallCNNDANN.py),
// whose batch statistics would couple the rows of a rank; the attack's loss
// is the sum over rows (same sign as the official mean).
#include "algos/adversarial/pgd.h"
#include "algos/algorithm.h"
#include "algos/align/common.h"
#include "algos/align/losses.h"
#include "algos/common/domain_batches.h"
#include "core/config.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/classifiers/classifier.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

namespace uda::algos::adversarial {
namespace {
using config::Type;
namespace F = torch::nn::functional;

const config::KeyRegistrar kDialKeys({
    {"algorithm.pgd_epsilon", Type::Number, 0.3,
     "dial: L-inf radius of the PGD attack in pixel units [0, 1] ([dial] train_dial_mnist.py --epsilon 0.3; CIFAR "
     "0.031)."},
    {"algorithm.pgd_step_size", Type::Number, 0.01,
     "dial: PGD step in pixel units ([dial] train_dial_mnist.py --step-size 0.01; CIFAR 0.003)."},
    {"algorithm.pgd_steps", Type::Int, 40, "dial: PGD steps ([dial] train_dial_mnist.py --num-steps 40; CIFAR 10)."},
    {"algorithm.pgd_start_std", Type::Number, 0.001,
     "dial: standard deviation (pixel units) of the random start ([dial] dial.py :27, 0.001)."},
    {"algorithm.dial_beta", Type::Number, 6.0,
     "dial: weight of the adversarial cross-entropy ([dial] train_dial_mnist.py --beta 6.0)."},
    {"algorithm.dial_domain_ratio", Type::Number, 0.1,
     "dial: weight of the domain classifier's losses ([dial] --domain-loss-ratio 0.1)."},
    {"algorithm.dial_disc_width", Type::Int, 100,
     "dial: hidden width of the domain classifier ([dial] models/SmallCNNDANN.py d_fc1 100)."},
});

class Dial : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    pgd_.steps = cfg.get<int64_t>("algorithm.pgd_steps");
    if (pgd_.steps < 1)
      throw UserError("algorithm.pgd_steps is " + std::to_string(pgd_.steps) + ", must be at least 1",
                      "algorithm.pgd_steps", "use 40 (DIAL on MNIST) or 10 (CIFAR)");
    pgd_.epsilon = cfg.get<double>("algorithm.pgd_epsilon");
    pgd_.step_size = cfg.get<double>("algorithm.pgd_step_size");
    if (!(pgd_.epsilon > 0) || !(pgd_.step_size > 0))
      throw UserError("algorithm.pgd_epsilon and algorithm.pgd_step_size must be positive", "algorithm.pgd_epsilon",
                      "use 0.3 and 0.01 (DIAL on MNIST)");
    start_std_ = cfg.get<double>("algorithm.pgd_start_std");
    beta_ = cfg.get<double>("algorithm.dial_beta");
    domain_ratio_ = cfg.get<double>("algorithm.dial_domain_ratio");
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    disc_ = align::DomainBedMlp(net_->feature_dim(), 2, cfg.get<int64_t>("algorithm.dial_disc_width"), 2, 0.0);
    disc_->to(ctx.device());
    ctx.track_module("model", net_);
    ctx.track_module("domain_classifier", disc_.ptr());
    auto params = align::named_params(*net_);
    for (auto& p : align::named_params(*disc_, "domain_classifier.")) params.push_back(p);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], params);
    reducer_ = &ctx.add_reducer("model", align::tensors_of(params));
    // The normalisation of the source stream: x = (255 p - mean) / std.
    set_normalization(pgd_, cfg.at("data.source.mean").get<std::vector<double>>(),
                      cfg.at("data.source.std").get<std::vector<double>>(), net_->config().in_channels, ctx.device());
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = concat_domains(batch, ctx, "dial");
    const int64_t n = data.images.size(0);
    // The random start of each sample from its own generator.
    auto start = torch::empty(data.images.sizes());
    const auto dom = data.domains.cpu();
    for (int64_t r = 0; r < n; ++r) {
      auto gen = ctx.sample_generator("dial/start/domain" + std::to_string(dom[r].item<int64_t>()),
                                      data.slots[r].item<int64_t>());
      start[r].copy_(at::normal(0.0, start_std_, data.images[r].sizes(), gen));
    }
    start = start.to(data.images.device()) * pgd_.scale;
    // [dial] :24-50: the attack with the network in eval mode.
    net_->eval();
    const auto adv = pgd_attack([&](const at::Tensor& x) { return net_->forward(x); }, data.images, data.labels,
                                start, pgd_);
    net_->train();
    disc_->train();
    const double coeff = align::grl_coefficient(ctx.iter(), 10.0, static_cast<double>(ctx.max_iters()));
    auto run = [&](const at::Tensor& x, const std::vector<uint64_t>& keys, int64_t domain_label) {
      models::SampleKeyScope scope(keys);
      const auto z = net_->features(x);
      const auto logits = net_->classify(z);
      const auto d = disc_->forward(align::gradient_reverse(z, coeff));
      const auto target = torch::full({x.size(0)}, domain_label, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
      return std::make_pair(logits, F::cross_entropy(d, target));
    };
    const auto [nat_logits, nat_domain] = run(data.images, data.keys, 0);
    const auto [adv_logits, adv_domain] = run(adv, row_keys(ctx, "dial/adversarial", data.domains, data.slots), 1);
    const auto nat_ce = F::cross_entropy(nat_logits, data.labels);
    const auto adv_ce = F::cross_entropy(adv_logits, data.labels);
    const auto loss = nat_ce + domain_ratio_ * nat_domain + beta_ * adv_ce + domain_ratio_ * adv_domain;
    const double adv_acc = adv_logits.argmax(1).eq(data.labels).to(torch::kDouble).mean().item<double>();
    Scalars s{{"loss", loss.item<double>()},
              {"nat_ce", nat_ce.item<double>()},
              {"adv_ce", adv_ce.item<double>()},
              {"domain_loss", (nat_domain + adv_domain).item<double>()},
              {"adv_acc", adv_acc},
              {"grl", coeff}};
    opt_->zero_grad();
    if (!ctx.check_loss("loss", loss)) return s;
    worker::Update(*opt_, *reducer_).backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  PgdOptions pgd_;
  double start_std_ = 0.001, beta_ = 6.0, domain_ratio_ = 0.1;
  models::Classifier net_;
  align::DomainBedMlp disc_{nullptr};
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
};

const AlgorithmRegistrar kRegister("dial", [] { return std::make_unique<Dial>(); });

}  // namespace
}  // namespace uda::algos::adversarial
