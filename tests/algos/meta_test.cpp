// The meta-learning plugins (algos/meta/): MLDG's first-order update against
// DomainBed's own (golden values of scripts/make_meta_golden.py,
// tests/fixtures/meta/mldg_domainbed.json), MLDG's and MetaAlign's
// second-order meta-gradients against central finite differences of their
// objectives (double precision), MetaAlign's first-order gradients against a
// by-hand recomputation, the configuration errors, and the cost of the second
// order relative to the first on MNIST_CNN (printed).
#include "algos/algorithm.h"
#include "algos/meta/mldg.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "core/error.h"
#include "models/classifiers/classifier.h"
#include "tests/support/test_support.h"
#include "worker/train_context.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace {

using nlohmann::json;

struct Setup {
  uda::config::Config cfg;
  std::unique_ptr<uda::comm::MpiCommunicator> comm;
  std::unique_ptr<uda::worker::TrainContext> ctx;
  std::unique_ptr<uda::algos::Algorithm> algo;
};

std::unique_ptr<Setup> make_setup(const json& doc) {
  uda::comm::ensure_mpi();
  auto s = std::make_unique<Setup>();
  s->cfg = uda::config::from_json(doc, "test");
  s->comm = std::make_unique<uda::comm::MpiCommunicator>(MPI_COMM_SELF);
  s->ctx = std::make_unique<uda::worker::TrainContext>(s->cfg, *s->comm, torch::kCPU);
  torch::manual_seed(3);
  s->algo = uda::algos::make_algorithm(doc["algorithm"]["name"].get<std::string>());
  s->algo->setup(*s->ctx);
  return s;
}

std::shared_ptr<torch::nn::Module> module(const uda::worker::TrainContext& ctx, const std::string& name) {
  for (const auto& kv : ctx.modules())
    if (kv.first == name) return kv.second;
  return nullptr;
}

json mldg_config(const std::string& order, double beta, int64_t k, double lr, double wd, int64_t classes,
                 double inner_lr = 0.0) {
  return {{"algorithm",
           {{"name", "mldg"}, {"mldg_order", order}, {"mldg_beta", beta}, {"n_meta_test", k},
            {"mldg_inner_lr", inner_lr}}},
          {"model", {{"backbone", {{"type", "mnist_cnn"}}}, {"head", {{"type", "linear"}}}, {"num_classes", classes},
                     {"in_channels", 1}}},
          {"optimizer", {{"type", "adam"}, {"lr", lr}, {"weight_decay", wd}}},
          {"schedule", {{"policy", "constant"}}},
          {"train", {{"max_iters", 10}, {"seed", 1}}}};
}

// scripts/make_meta_golden.py's formulas.
void formula_parameters(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  int64_t t = 0;
  for (auto& item : net.named_parameters()) {
    auto& p = item.value();
    auto q = torch::arange(p.numel(), torch::kDouble);
    auto s = torch::sin(0.37 * q + 1.1 * static_cast<double>(t) + 0.5);
    at::Tensor v;
    if (p.dim() >= 2) v = s / std::sqrt(static_cast<double>(p.numel()) / static_cast<double>(p.size(0)));
    else if (item.key().size() >= 6 && item.key().substr(item.key().size() - 6) == "weight") v = 1 + 0.1 * s;
    else v = 0.1 * s;
    p.copy_(v.view_as(p));
    ++t;
  }
}

uda::algos::DomainBatch formula_domain(int64_t d, int64_t n, int64_t channels, int64_t size, int64_t classes,
                                       int64_t slot0) {
  uda::algos::DomainBatch b;
  auto q = torch::arange(n * channels * size * size, torch::kDouble);
  b.images = torch::sin(0.013 * q + 0.7 * static_cast<double>(d) + 0.1).view({n, channels, size, size});
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back((3 * i + d) % classes);
  b.labels = torch::tensor(labels, torch::kLong);
  b.indices = torch::arange(slot0, slot0 + n, torch::kLong);
  return b;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

TEST(MldgGolden, FirstOrderUpdateMatchesDomainBed) {
  const auto path = std::string(UDA_SOURCE_DIR) + "/tests/fixtures/meta/mldg_domainbed.json";
  const auto doc = json::parse(uda::test::read_text(path));
  ASSERT_EQ(doc["cases"].size(), 3u);
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const int64_t classes = c["classes"], channels = c["channels"], size = c["size"];
    auto s = make_setup(mldg_config("first", c["mldg_beta"], c["n_meta_test"], c["lr"], c["weight_decay"], classes));
    auto* mldg = dynamic_cast<uda::algos::Mldg*>(s->algo.get());
    ASSERT_NE(mldg, nullptr);
    auto net = mldg->network();
    net->to(torch::kDouble);
    formula_parameters(*net);
    std::vector<at::Tensor> init;
    for (auto& p : net->parameters()) init.push_back(p.detach().clone());
    const auto& golden = c["parameters"];
    ASSERT_EQ(golden.size(), init.size());
    for (size_t i = 0; i < init.size(); ++i) {
      ASSERT_EQ(init[i].sizes().vec(), golden[i]["shape"].get<std::vector<int64_t>>()) << golden[i]["domainbed_name"];
      EXPECT_LE(rel(init[i].sum().item<double>(), golden[i]["init_sum"]), 1e-12) << "initial formula differs";
    }
    uda::algos::Batch batch;
    int64_t slot = 0;
    const auto sizes = c["domain_sizes"].get<std::vector<int64_t>>();
    for (size_t d = 0; d < sizes.size(); ++d) {
      batch.domains.push_back(formula_domain(static_cast<int64_t>(d), sizes[d], channels, size, classes, slot));
      slot += sizes[d];
    }
    double worst_loss = 0, worst = 0;
    for (size_t step = 0; step < c["perms"].size(); ++step) {
      s->ctx->set_iter(static_cast<int64_t>(step));
      auto out = mldg->update(batch, c["perms"][step].get<std::vector<int64_t>>(), *s->ctx);
      worst_loss = std::max(worst_loss, std::abs(out[0].second - c["losses"][step].get<double>()));
    }
    auto params = net->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto delta = (params[i].detach() - init[i]).reshape({-1});
      const auto& g = golden[i];
      const double scale = g["delta_l1"].get<double>() / static_cast<double>(delta.numel());  // typical |change|
      worst = std::max(worst, rel(delta.abs().sum().item<double>(), g["delta_l1"]));
      worst = std::max(worst, std::abs(params[i].sum().item<double>() - g["sum"].get<double>()) /
                                  (g["delta_l1"].get<double>() + 1e-300));
      for (auto it = g["delta_at"].begin(); it != g["delta_at"].end(); ++it) {
        const double got = delta[std::stoll(it.key())].item<double>();
        worst = std::max(worst, std::abs(got - it.value().get<double>()) / std::max(std::abs(it.value().get<double>()), scale));
      }
    }
    std::cout << "[mldg golden] " << c["name"].get<std::string>() << ": largest loss difference " << worst_loss
              << ", largest relative difference of the parameter changes " << worst << "\n";
    EXPECT_LE(worst_loss, 1e-9);
    EXPECT_LE(worst, 1e-5);
  }
}

// A snapshot of parameter values, and its restoration.
std::vector<at::Tensor> snapshot(const std::vector<at::Tensor>& ps) {
  std::vector<at::Tensor> out;
  for (const auto& p : ps) out.push_back(p.detach().clone());
  return out;
}

void restore(const std::vector<at::Tensor>& ps, const std::vector<at::Tensor>& values) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < ps.size(); ++i) ps[i].copy_(values[i]);
}

// ⟨grad, v⟩ against central differences of `objective` along random
// directions v over `ps` (double precision). The inner gradient of a ReLU
// network is discontinuous where a unit crosses zero, so the objective can
// jump between θ − hv and θ + hv: a direction whose differences at h and h/2
// disagree crossed such a jump and is skipped (at most a few).
// `first_order`: the same update without the second-order term; it must
// differ from the differences, or the check could not see a missing
// create_graph.
void expect_directional_derivatives(const std::vector<at::Tensor>& ps, const std::vector<at::Tensor>& grads,
                                    const std::function<double()>& objective, const std::string& what,
                                    const std::vector<at::Tensor>& first_order) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  double first_gap = 0;
  const double h = 1e-7;
  int accepted = 0, skipped = 0;
  double worst = 0;
  for (int trial = 0; trial < 12 && accepted < 3; ++trial) {
    std::vector<at::Tensor> v;
    double analytic = 0, first = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      v.push_back(torch::randn(ps[i].sizes(), gen, ps[i].options()));
      analytic += (grads[i] * v[i]).sum().item<double>();
      first += (first_order[i] * v[i]).sum().item<double>();
    }
    auto at = [&](double t) {
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(v[i], t);
      }
      const double value = objective();
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < ps.size(); ++i) ps[i].sub_(v[i], t);
      return value;
    };
    const double d1 = (at(h) - at(-h)) / (2 * h), d2 = (at(h / 2) - at(-h / 2)) / h;
    if (std::abs(d1 - d2) > 1e-6 * std::max({std::abs(d1), std::abs(d2), 1e-9})) {
      ++skipped;
      continue;
    }
    ++accepted;
    const double r = std::abs(analytic - d2) / std::max(std::abs(d2), 1e-12);
    worst = std::max(worst, r);
    first_gap = std::max(first_gap, std::abs(first - d2) / std::max(std::abs(d2), 1e-12));
    std::cout << "[" << what << "] direction " << trial << ": meta-gradient " << analytic << ", central difference "
              << d2 << " (relative difference " << r << "); without the second-order term " << first << "\n";
  }
  if (skipped) std::cout << "[" << what << "] " << skipped << " direction(s) skipped (a ReLU crossing)\n";
  EXPECT_GE(accepted, 2) << what;
  EXPECT_LE(worst, 1e-6) << what;
  EXPECT_GE(first_gap, 1e-3) << what << ": the second-order term is too small for the check to mean anything";
}

double cross_entropy(torch::nn::Module& net, const at::Tensor& x, const at::Tensor& y) {
  auto* c = dynamic_cast<uda::models::ClassifierImpl*>(&net);
  return torch::nn::functional::cross_entropy(c->forward(x), y).item<double>();
}

TEST(MldgSecondOrder, MetaGradientMatchesFiniteDifferencesOfThePaperObjective) {
  const double alpha = 0.2, beta = 0.8;
  // lr 0: the outer step leaves the parameters where the gradient was taken.
  auto s = make_setup(mldg_config("second", beta, 1, 0.0, 0.0, 3, alpha));
  auto* mldg = dynamic_cast<uda::algos::Mldg*>(s->algo.get());
  auto net = mldg->network();
  net->to(torch::kDouble);
  uda::algos::Batch batch;
  for (int64_t d = 0; d < 3; ++d) batch.domains.push_back(formula_domain(d, 2, 1, 4, 3, 2 * d));
  const std::vector<int64_t> perm{2, 0, 1};  // meta-train {2, 0}, meta-test {1}
  auto before = snapshot(net->parameters());
  mldg->update(batch, perm, *s->ctx);
  auto ps = net->parameters();
  restore(ps, before);
  std::vector<at::Tensor> grads;
  for (auto& p : ps) grads.push_back(p.grad().detach().clone());
  // F(θ) + β G(θ − α ∇F(θ)), evaluated without fast weights: the network's
  // parameters are set to θ' and put back.
  auto objective = [&]() {
    auto f = (torch::nn::functional::cross_entropy(net->forward(batch.domains[2].images), batch.domains[2].labels) +
              torch::nn::functional::cross_entropy(net->forward(batch.domains[0].images), batch.domains[0].labels)) /
             2.0;
    auto g = torch::autograd::grad({f}, ps);
    auto theta = snapshot(ps);
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < ps.size(); ++i) ps[i].sub_(g[i], alpha);
    }
    const double gt = cross_entropy(*net, batch.domains[1].images, batch.domains[1].labels);
    restore(ps, theta);
    return f.item<double>() + beta * gt;
  };
  // The first-order version of the same update: ∇F(θ) + β ∇G at θ'.
  std::vector<at::Tensor> first;
  {
    auto f = (torch::nn::functional::cross_entropy(net->forward(batch.domains[2].images), batch.domains[2].labels) +
              torch::nn::functional::cross_entropy(net->forward(batch.domains[0].images), batch.domains[0].labels)) /
             2.0;
    auto gf = torch::autograd::grad({f}, ps);
    auto theta = snapshot(ps);
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < ps.size(); ++i) ps[i].sub_(gf[i], alpha);
    }
    auto gg = torch::autograd::grad(
        {torch::nn::functional::cross_entropy(net->forward(batch.domains[1].images), batch.domains[1].labels)}, ps);
    restore(ps, theta);
    for (size_t i = 0; i < ps.size(); ++i) first.push_back(gf[i] + beta * gg[i]);
  }
  expect_directional_derivatives(ps, grads, objective, "mldg second order", first);
}

json metaalign_config(const std::string& order, double meta_lr, double grl_alpha) {
  return {{"algorithm",
           {{"name", "metaalign"}, {"metaalign_order", order}, {"metaalign_meta_lr", meta_lr},
            {"metaalign_trade_off", 0.6}, {"metaalign_disc_hidden", 16}, {"metaalign_disc_dropout", 0.0},
            {"metaalign_grl_alpha", grl_alpha}, {"metaalign_grl_max_iters", 1}, {"metaalign_step", 1}}},
          {"model", {{"backbone", {{"type", "mnist_cnn"}}}, {"head", {{"type", "linear"}}}, {"num_classes", 3},
                     {"in_channels", 1}}},
          {"optimizer",
           {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 1e-3},
            {"paramwise", {{"fc", {{"lr_mult", 10.0}}}, {"discriminator", {{"lr_mult", 10.0}}}}}}},
          {"schedule", {{"policy", "constant"}}},
          {"train", {{"max_iters", 10}, {"seed", 1}}}};
}

uda::algos::Batch uda_batch() {
  uda::algos::Batch b;
  b.source = formula_domain(0, 3, 1, 4, 3, 0);
  b.target = formula_domain(1, 3, 1, 4, 3, 100);
  b.target.images = b.target.images * 1.5 + 0.2;
  b.target.labels = at::Tensor();
  return b;
}

// The discriminator by hand from its parameters (dropout 0): logits [N].
at::Tensor discriminator(torch::nn::Module& d, const at::Tensor& f) {
  auto p = d.named_parameters();
  auto y = torch::relu(torch::linear(f, p["ad_layer1.weight"], p["ad_layer1.bias"]));
  y = torch::relu(torch::linear(y, p["ad_layer2.weight"], p["ad_layer2.bias"]));
  return torch::linear(y, p["ad_layer3.weight"], p["ad_layer3.bias"]).squeeze(1);
}

// MetaAlign's two losses by hand: the classification loss on the source,
// and the alignment loss with the reversal layer as the official code
// writes it (a hook scaling the features' gradient by −coeff).
struct ByHand {
  uda::models::ClassifierImpl* net;
  torch::nn::Module* disc;
  const uda::algos::Batch* batch;
  double coeff, trade_off = 0.6;
  at::Tensor cls() const {
    return torch::nn::functional::cross_entropy(net->forward(batch->source.images), batch->source.labels);
  }
  at::Tensor align() const {
    auto f = net->features(torch::cat({batch->source.images, batch->target.images}));
    if (f.requires_grad()) {
      const double c = coeff;
      f.register_hook([c](at::Tensor g) { return g * (-c); });
    }
    const auto logits = discriminator(*disc, f);
    const auto domain = torch::cat({torch::ones({3}, logits.options()), torch::zeros({3}, logits.options())});
    return trade_off * torch::nn::functional::binary_cross_entropy_with_logits(logits, domain);
  }
};

// Inner learning rate per network parameter: meta_lr × lr × (10 for fc).
std::vector<double> inner_lrs(torch::nn::Module& net, double meta_lr, double lr) {
  std::vector<double> out;
  for (const auto& item : net.named_parameters())
    out.push_back(meta_lr * lr * (item.key().rfind("fc.", 0) == 0 ? 10.0 : 1.0));
  return out;
}

// The official first-order composition by hand, on the modules' own
// parameters (restored afterwards): the meta-train loss and its gradient at
// θ; θ' = θ − lr·g written into the network; the meta-test loss there; the
// meta-train loss's gradient at θ plus the meta-test loss's at θ', the
// discriminator's from both. Returns the gradients (network, then
// discriminator) and the total loss.
std::pair<std::vector<at::Tensor>, double> by_hand_first_order(const ByHand& h, bool cls_first,
                                                               const std::vector<at::Tensor>& np,
                                                               const std::vector<at::Tensor>& dp,
                                                               const std::vector<double>& lrs) {
  auto theta = snapshot(np);
  for (auto p : np) p.mutable_grad() = at::Tensor();
  for (auto p : dp) p.mutable_grad() = at::Tensor();
  const auto inner = cls_first ? h.cls() : h.align();
  auto g = torch::autograd::grad({inner}, np, {}, true, false, true);
  inner.backward();
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < np.size(); ++i)
      if (g[i].defined()) np[i].sub_(g[i] * lrs[i]);
  }
  const auto outer = cls_first ? h.align() : h.cls();
  outer.backward();
  std::vector<at::Tensor> out;
  for (auto& p : np) out.push_back(p.grad().detach().clone());
  for (auto& p : dp) out.push_back(p.grad().defined() ? p.grad().detach().clone() : torch::zeros_like(p));
  restore(np, theta);
  return {out, inner.item<double>() + outer.item<double>()};
}

TEST(MetaAlign, FirstOrderGradientsAreTheOfficialCompositionInBothOrders) {
  const double meta_lr = 3.0, lr = 0.05;
  auto s = make_setup(metaalign_config("first", meta_lr, 10.0));
  auto net_m = module(*s->ctx, "model");
  auto disc = module(*s->ctx, "discriminator");
  ASSERT_TRUE(net_m && disc);
  auto* net = dynamic_cast<uda::models::ClassifierImpl*>(net_m.get());
  net_m->to(torch::kDouble);
  disc->to(torch::kDouble);
  auto batch = uda_batch();
  auto np = net_m->parameters();
  auto dp = disc->parameters();
  const auto lrs = inner_lrs(*net_m, meta_lr, lr);
  for (int64_t iter = 0; iter < 2; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    s->ctx->set_iter(iter);
    auto theta = snapshot(np), phi = snapshot(dp);
    auto out = s->algo->train_step(batch, *s->ctx);
    std::map<std::string, double> sc(out.begin(), out.end());
    EXPECT_EQ(sc["cls_first"], iter == 0 ? 1.0 : 0.0);
    std::vector<at::Tensor> got;
    for (auto& p : np) got.push_back(p.grad().detach().clone());
    for (auto& p : dp) got.push_back(p.grad().detach().clone());
    restore(np, theta);
    restore(dp, phi);
    const double coeff = 2.0 / (1.0 + std::exp(-10.0 * static_cast<double>(iter + 1))) - 1.0;
    ByHand h{net, disc.get(), &batch, coeff};
    const auto [expected, total] = by_hand_first_order(h, iter == 0, np, dp, lrs);
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, ((got[i] - expected[i]).abs().max() / expected[i].abs().max().clamp_min(1e-12)).item<double>());
    EXPECT_LE(worst, 1e-9);
    EXPECT_NEAR(sc["loss"], total, 1e-9);
    restore(np, theta);
    restore(dp, phi);
  }
}

TEST(MetaAlign, SecondOrderMetaGradientMatchesFiniteDifferencesInBothOrders) {
  // grl_alpha −50 with max_iters 1 makes the reversal coefficient −1: the
  // reversal layer becomes the identity and the update direction is the
  // gradient of the scalar objective L_in(θ, φ) + L_out(θ − lr ∇_θ L_in, φ),
  // which central differences can check.
  const double meta_lr = 3.0, lr = 0.05;
  auto s = make_setup(metaalign_config("second", meta_lr, -50.0));
  auto net_m = module(*s->ctx, "model");
  auto disc = module(*s->ctx, "discriminator");
  auto* net = dynamic_cast<uda::models::ClassifierImpl*>(net_m.get());
  net_m->to(torch::kDouble);
  disc->to(torch::kDouble);
  auto batch = uda_batch();
  auto np = net_m->parameters();
  auto dp = disc->parameters();
  std::vector<at::Tensor> ps = np;
  ps.insert(ps.end(), dp.begin(), dp.end());
  const auto lrs = inner_lrs(*net_m, meta_lr, lr);
  for (int64_t iter = 0; iter < 2; ++iter) {
    s->ctx->set_iter(iter);
    auto theta = snapshot(ps);
    auto out = s->algo->train_step(batch, *s->ctx);
    std::vector<at::Tensor> grads;
    for (auto& p : ps) grads.push_back(p.grad().detach().clone());
    restore(ps, theta);
    ByHand h{net, disc.get(), &batch, -1.0};
    auto objective = [&]() {
      const auto inner = iter == 0 ? h.cls() : h.align();
      auto g = torch::autograd::grad({inner}, np, {}, false, false, true);
      auto here = snapshot(np);
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < np.size(); ++i)
          if (g[i].defined()) np[i].sub_(g[i] * lrs[i]);
      }
      const double outer = (iter == 0 ? h.align() : h.cls()).item<double>();
      restore(np, here);
      return inner.item<double>() + outer;
    };
    const auto first = by_hand_first_order(h, iter == 0, np, dp, lrs).first;
    expect_directional_derivatives(ps, grads, objective,
                                   iter == 0 ? "metaalign second order, classification first"
                                             : "metaalign second order, alignment first",
                                   first);
    restore(ps, theta);
  }
}

template <typename F>
void expect_user_error(F&& f, const std::string& key) {
  try {
    f();
    ADD_FAILURE() << "no UserError naming " << key;
  } catch (const uda::UserError& e) {
    EXPECT_EQ(e.where(), key) << e.line();
  }
}

TEST(MetaConfig, BadInputIsAUserErrorNamingTheKey) {
  expect_user_error([] { make_setup(mldg_config("second", 1.0, 1, 1e-3, 0.0, 3, 0.0)); }, "algorithm.mldg_inner_lr");
  expect_user_error([] { make_setup(mldg_config("second", 1.0, 1, 1e-3, 0.0, 3, -1.0)); }, "algorithm.mldg_inner_lr");
  expect_user_error([] { make_setup(mldg_config("first", 1.0, 0, 1e-3, 0.0, 3)); }, "algorithm.n_meta_test");
  {
    auto s = make_setup(mldg_config("first", 1.0, 1, 1e-3, 0.0, 3));
    uda::algos::Batch one;
    one.domains.push_back(formula_domain(0, 2, 1, 8, 3, 0));
    one.domains[0].images = one.domains[0].images.to(torch::kFloat);
    expect_user_error([&] { s->algo->train_step(one, *s->ctx); }, "data.test_domains");
    uda::algos::Batch none;
    none.source = one.domains[0];
    expect_user_error([&] { s->algo->train_step(none, *s->ctx); }, "data.source.per_domain_batches");
    uda::algos::Batch two = one;
    two.domains.push_back(one.domains[0]);
    auto s3 = make_setup(mldg_config("first", 1.0, 3, 1e-3, 0.0, 3));
    expect_user_error([&] { s3->algo->train_step(two, *s3->ctx); }, "algorithm.n_meta_test");
    auto s2 = make_setup(mldg_config("second", 1.0, 2, 1e-3, 0.0, 3, 0.1));
    expect_user_error([&] { s2->algo->train_step(two, *s2->ctx); }, "algorithm.n_meta_test");
  }
  expect_user_error([] { make_setup(metaalign_config("first", 0.0, 10.0)); }, "algorithm.metaalign_meta_lr");
  auto bad_step = metaalign_config("first", 1.0, 10.0);
  bad_step["algorithm"]["metaalign_step"] = 0;
  expect_user_error([&] { make_setup(bad_step); }, "algorithm.metaalign_step");
  {
    auto s = make_setup(metaalign_config("first", 1.0, 10.0));
    auto b = uda_batch();
    b.source.images = b.source.images.to(torch::kFloat);
    b.target = uda::algos::DomainBatch();
    expect_user_error([&] { s->algo->train_step(b, *s->ctx); }, "data.target.path");
  }
}

}  // namespace
