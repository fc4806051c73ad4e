// MLDG, first order (DomainBed) and second order (the paper). Sources:
// DomainBed b93c22a domainbed/algorithms.py [db], domainbed/lib/misc.py
// [misc], domainbed/hparams_registry.py [hp]; Li et al., AAAI 2018 [paper].
#include "algos/meta/mldg.h"

#include "algos/meta/meta_common.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/layers/fast_weights.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

namespace uda::algos {

namespace {
using config::Type;

const config::KeyRegistrar kKeys({
    {"algorithm.mldg_beta", Type::Number, 1.0,
     "MLDG: weight beta of the meta-test loss (DomainBed hparams_registry.py:104 mldg_beta, default 1; "
     "random 10^U(-1, 1); the paper's beta, Eq. 3)."},
    {"algorithm.n_meta_test", Type::Int, 2,
     "MLDG: meta-test domains per step (DomainBed hparams_registry.py:105 n_meta_test, default 2; random "
     "choice [1, 2]); the split is lib/misc.py:196-210 split_meta_train_test. At most the number of training "
     "domains (equal to it: DomainBed's first order makes no pair and steps on zero gradients); the second "
     "order needs at least one meta-train domain."},
    {"algorithm.mldg_order", Type::String, "first",
     "MLDG: first = DomainBed's first-order update (algorithms.py:857-939: fresh inner Adam per pair, no second "
     "derivatives); second = the paper's exact update (Li et al. AAAI 2018, Algorithm 1 / Eq. 3): "
     "theta' = theta - mldg_inner_lr * grad F(theta), objective F(theta) + beta G(theta'), differentiated "
     "through the inner SGD step.",
     false, {"first", "second"}},
    {"algorithm.mldg_inner_lr", Type::Number, 0.0,
     "MLDG second order: the inner SGD step size alpha of the paper's Algorithm 1 (must be > 0 with "
     "mldg_order second; the first order uses DomainBed's inner Adam at optimizer.lr instead)."},
});

// [misc] split_meta_train_test: meta_train = perm[:n - k], meta_test = perm[-k:].
struct Split {
  std::vector<int64_t> train, test;
};

Split split_domains(const std::vector<int64_t>& perm, int64_t k) {
  const auto n = static_cast<int64_t>(perm.size());
  Split s;
  s.train.assign(perm.begin(), perm.begin() + (n - k));
  s.test.assign(perm.begin() + (n - k), perm.end());
  return s;
}

// The first Adam step of a fresh torch.optim.Adam(lr, weight_decay) with
// PyTorch's default betas (0.9, 0.999) and eps 1e-8 — DomainBed's inner_opt
// ([db] :897-901), stepped once ([db] :905-907) — as torch 1.13's
// _single_tensor_adam computes it (the same operations in the same order):
// state zeros, step 1.
at::Tensor inner_adam_step(const at::Tensor& param, at::Tensor grad, double lr, double weight_decay) {
  torch::NoGradGuard no_grad;
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  const auto p = param.detach();
  if (weight_decay != 0) grad = grad.add(p, weight_decay);
  auto exp_avg = torch::zeros_like(p).mul_(beta1).add_(grad, 1 - beta1);
  auto exp_avg_sq = torch::zeros_like(p).mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  const double bias_correction1 = 1 - std::pow(beta1, 1.0);
  const double bias_correction2 = 1 - std::pow(beta2, 1.0);
  const double step_size = lr / bias_correction1;
  auto denom = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(eps);
  return p.addcdiv(exp_avg, denom, -step_size);
}

// Rows [0, m) of one domain's batch.
struct Part {
  at::Tensor images, labels, indices;
};

Part head(const DomainBatch& d, int64_t m) {
  return {d.images.narrow(0, 0, m), d.labels.narrow(0, 0, m), d.indices.narrow(0, 0, m)};
}

// The domains `which` side by side, with their rows' keys for per-sample
// layer randomness under `stream`.
struct Stack {
  at::Tensor images, labels;
  std::vector<int64_t> sizes;
  std::vector<uint64_t> keys;
};

Stack stack(const Batch& batch, const std::vector<int64_t>& which, const worker::TrainContext& ctx,
            const std::string& stream) {
  Stack s;
  std::vector<at::Tensor> images, labels;
  for (auto d : which) {
    const auto& b = batch.domains[static_cast<size_t>(d)];
    images.push_back(b.images);
    labels.push_back(b.labels);
    s.sizes.push_back(b.images.size(0));
    const auto keys = ctx.sample_keys(stream + "/domain" + std::to_string(d), b.indices);
    s.keys.insert(s.keys.end(), keys.begin(), keys.end());
  }
  s.images = torch::cat(images);
  s.labels = torch::cat(labels);
  return s;
}

// (1/|D|) Σ_d mean cross-entropy of domain d's rows ([paper] Eq. 1 and 2:
// the average over domains of each domain's average loss).
at::Tensor mean_of_domain_means(const at::Tensor& logits, const Stack& s) {
  auto ce = torch::nn::functional::cross_entropy(
      logits, s.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  at::Tensor total;
  int64_t offset = 0;
  for (auto n : s.sizes) {
    auto m = ce.narrow(0, offset, n).mean();
    total = total.defined() ? total + m : m;
    offset += n;
  }
  return total / static_cast<double>(s.sizes.size());
}

}  // namespace

void Mldg::setup(worker::TrainContext& ctx) {
  const auto& cfg = ctx.config();
  second_ = cfg.get<std::string>("algorithm.mldg_order") == "second";
  beta_ = cfg.get<double>("algorithm.mldg_beta");
  n_meta_test_ = cfg.get<int64_t>("algorithm.n_meta_test");
  inner_lr_ = cfg.get<double>("algorithm.mldg_inner_lr");
  if (n_meta_test_ < 1)
    throw UserError("algorithm.n_meta_test is " + std::to_string(n_meta_test_) + ", must be at least 1",
                    "algorithm.n_meta_test", "DomainBed draws 1 or 2 (default 2)");
  if (second_ && !(inner_lr_ > 0.0))
    throw UserError("the second-order MLDG needs an inner step size alpha > 0, got " + std::to_string(inner_lr_),
                    "algorithm.mldg_inner_lr", "set algorithm.mldg_inner_lr > 0 (e.g. 1e-3), or mldg_order first");
  // [db] MLDG(ERM): network = Sequential(featurizer, classifier), one Adam
  // over all its parameters (:97-111); optimizer.* here.
  net_ = models::build_classifier(cfg);
  net_->to(ctx.device());
  ctx.track_module("model", net_);
  worker::NamedParameters named;
  std::vector<at::Tensor> all;
  for (const auto& p : net_->named_parameters(true)) {
    named.emplace_back(p.key(), p.value());
    all.push_back(p.value());
  }
  params_ = meta::trainable_parameters(*net_);
  opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], named);
  reducer_ = &ctx.add_reducer("model", all);
}

at::Tensor Mldg::predict(const at::Tensor& images) {
  net_->eval();
  return net_->forward(images);
}

Scalars Mldg::train_step(const Batch& batch, worker::TrainContext& ctx) {
  // [misc] :197: perm = torch.randperm(n_domains), here from the step's
  // generator shared by all ranks (a function of the seed and the iteration).
  const auto n = static_cast<int64_t>(batch.domains.size());
  std::vector<int64_t> perm;
  if (n > 0) {
    auto gen = ctx.step_generator("mldg/split");
    auto t = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong));
    perm.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
  }
  return update(batch, perm, ctx);
}

Scalars Mldg::update(const Batch& batch, const std::vector<int64_t>& perm, worker::TrainContext& ctx) {
  const auto n = static_cast<int64_t>(batch.domains.size());
  if (n == 0)
    throw UserError("MLDG needs one batch per training domain", "data.source.per_domain_batches",
                    "set data.source.per_domain_batches true on a multi-domain dataset");
  if (n < 2)
    throw UserError("MLDG needs at least two training domains, the step has " + std::to_string(n),
                    "data.test_domains", "leave at least two domains of data.source.path out of data.test_domains");
  for (const auto& d : batch.domains)
    if (!d.defined() || !d.labels.defined() || d.labels.dim() != 1)
      throw UserError("MLDG needs labelled class ids for every training domain", "data.source.path",
                      "convert a classification dataset (e.g. uda convert --format idx)");
  if (static_cast<int64_t>(perm.size()) != n)
    throw std::invalid_argument("Mldg::update: a permutation of " + std::to_string(perm.size()) +
                                " domains for a step of " + std::to_string(n));
  if (n_meta_test_ > n)
    throw UserError("algorithm.n_meta_test is " + std::to_string(n_meta_test_) + " but the step has only " +
                        std::to_string(n) + " training domains",
                    "algorithm.n_meta_test", "set it to at most the number of training domains");
  if (second_ && n_meta_test_ >= n)
    throw UserError("the second-order MLDG needs at least one meta-train domain: n_meta_test " +
                        std::to_string(n_meta_test_) + " of " + std::to_string(n) + " training domains",
                    "algorithm.n_meta_test", "set it below the number of training domains");
  net_->train();
  // [db] :886-891: zero_grad, and zeros for every parameter without a
  // gradient, so that the outer Adam steps every parameter.
  opt_->zero_grad();
  for (auto& p : params_)
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  return second_ ? second_order(batch, perm, ctx) : first_order(batch, perm, ctx);
}

Scalars Mldg::first_order(const Batch& batch, const std::vector<int64_t>& perm, worker::TrainContext& ctx) {
  const auto n = static_cast<int64_t>(batch.domains.size());
  const double num_mb = static_cast<double>(n);  // [db] :883 num_mb = len(minibatches)
  const auto split = split_domains(perm, n_meta_test_);
  if (split.train.empty()) {
    static bool warned = false;
    if (!warned)
      spdlog::warn("MLDG: n_meta_test {} equals the number of training domains: no meta-train/meta-test pair, "
                   "the step is the optimizer's step on zero gradients (DomainBed's behaviour)",
                   n_meta_test_);
    warned = true;
  }
  const auto groups = meta::optimizer_groups(*opt_, params_);
  std::vector<at::Tensor> gi_sum(params_.size());
  double objective = 0.0;
  const size_t pairs = split.train.size();
  for (size_t p = 0; p < pairs; ++p) {
    // [misc] :205-208: pair (i, j) = (meta_train[p], meta_test[p mod k]),
    // both truncated to the shorter batch.
    const int64_t i = split.train[p], j = split.test[p % split.test.size()];
    const auto& bi = batch.domains[static_cast<size_t>(i)];
    const auto& bj = batch.domains[static_cast<size_t>(j)];
    const int64_t m = std::min(bi.images.size(0), bj.images.size(0));
    const Part xi = head(bi, m), xj = head(bj, m);
    const std::string pair = "mldg/pair" + std::to_string(p);

    // [db] :905-907: L_i on a copy of the network, its gradient G_i — here
    // the global batch's (averaged over ranks, so every rank's inner step
    // lands on the same θ'_i).
    at::Tensor li;
    {
      models::SampleKeyScope keys(ctx.sample_keys(pair + "/meta_train/domain" + std::to_string(i), xi.indices));
      li = torch::nn::functional::cross_entropy(net_->forward(xi.images), xi.labels);
    }
    if (!ctx.check_loss("loss", li)) return {{"loss", NAN}};
    auto gi = meta::gradients(li, params_, /*create_graph=*/false, /*retain_graph=*/false);
    {
      torch::NoGradGuard no_grad;
      gi = meta::global_gradients(ctx, gi);
    }
    // [db] :897-907: a fresh Adam(lr, weight_decay) over the copy, stepped
    // once; lr and weight decay of each parameter's group in the outer
    // optimizer (DomainBed: one group, hparams lr and weight_decay).
    std::vector<at::Tensor> fast(params_.size());
    for (size_t k = 0; k < params_.size(); ++k) {
      const bool held = groups[k] != std::numeric_limits<size_t>::max();
      const double lr = held ? opt_->group_lr(groups[k]) : 0.0;
      const double wd = held ? meta::group_weight_decay(*opt_, groups[k]) : 0.0;
      const auto stepped = inner_adam_step(params_[k], gi[k], lr, wd);
      // The copy's value, with d fast / d θ = I: the first-order gradient
      // at the stepped copy lands in θ.grad ([db] :925-930 adds G_j to the
      // network's gradient).
      fast[k] = stepped + (params_[k] - params_[k].detach());
      // [db] :911-914: network.grad += G_i / num_mb (added after the
      // exchange below: G_i is already the global batch's).
      auto g = gi[k] / num_mb;
      gi_sum[k] = gi_sum[k].defined() ? gi_sum[k] + g : g;
    }
    objective += li.item<double>();  // [db] :917

    // [db] :920-930: L_j at the stepped copy; G_j = its gradient there;
    // network.grad += mldg_beta * G_j / num_mb.
    at::Tensor lj;
    {
      models::FastWeights weights(params_, fast);
      models::SampleKeyScope keys(ctx.sample_keys(pair + "/meta_test/domain" + std::to_string(j), xj.indices));
      lj = torch::nn::functional::cross_entropy(net_->forward(xj.images), xj.labels);
    }
    if (!ctx.check_loss("loss", lj)) return {{"loss", NAN}};
    objective += beta_ * lj.item<double>();  // [db] :924
    if (p + 1 == pairs) reducer_->arm();
    (lj * (beta_ / num_mb)).backward();
  }
  reducer_->finalize();  // averages Σ β G_j / num_mb over ranks
  {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < params_.size(); ++k)
      if (gi_sum[k].defined()) params_[k].mutable_grad().add_(gi_sum[k]);
  }
  objective /= num_mb;  // [db] :933
  opt_->clip_gradients();
  opt_->step();  // [db] :935
  return {{"loss", objective}};
}

Scalars Mldg::second_order(const Batch& batch, const std::vector<int64_t>& perm, worker::TrainContext& ctx) {
  const auto split = split_domains(perm, n_meta_test_);
  // [paper] Algorithm 1: meta-train F(S̄; θ) (Eq. 1), its gradient — the
  // global batch's, through the differentiable average — and
  // θ' = θ − α ∇F; meta-test G(S̆; θ') (Eq. 2); the update on
  // ∇_θ [F(θ) + β G(θ − α ∇F(θ))] (Eq. 3).
  const auto train = stack(batch, split.train, ctx, "mldg/meta_train");
  at::Tensor f;
  {
    models::SampleKeyScope keys(train.keys);
    f = mean_of_domain_means(net_->forward(train.images), train);
  }
  auto g = meta::global_gradients(ctx, meta::gradients(f, params_, /*create_graph=*/true, /*retain_graph=*/true));
  std::vector<at::Tensor> fast(params_.size());
  for (size_t k = 0; k < params_.size(); ++k) fast[k] = params_[k] - inner_lr_ * g[k];
  const auto test = stack(batch, split.test, ctx, "mldg/meta_test");
  at::Tensor gt;
  {
    models::FastWeights weights(params_, fast);
    models::SampleKeyScope keys(test.keys);
    gt = mean_of_domain_means(net_->forward(test.images), test);
  }
  auto objective = f + beta_ * gt;
  Scalars s{{"loss", objective.item<double>()}, {"loss_meta_train", f.item<double>()},
            {"loss_meta_test", gt.item<double>()}};
  if (!ctx.check_loss("loss", objective)) return s;
  reducer_->arm();
  objective.backward();
  reducer_->finalize();
  opt_->clip_gradients();
  opt_->step();
  return s;
}

namespace {
const AlgorithmRegistrar kRegister("mldg", [] { return std::make_unique<Mldg>(); });
}  // namespace

}  // namespace uda::algos
