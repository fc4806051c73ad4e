// ADA (Volpi et al., "Generalizing to Unseen Domains via Adversarial Data
// Augmentation", NeurIPS 2018; official code ricvolpi/generalize-unseen-
// domains [ada], TensorFlow) and M-ADA (Qiao et al., "Learning to Learn
// Single Domain Generalization", CVPR 2020; official code joffery/M-ADA
// [mada], PyTorch).
//
// Max phase ([ada] trainOps.py:118-141; [mada] main_Digits.py:123-208):
// when (t + 1) % T_min == 0 and fewer than k phases ran, with the network
// frozen (eval mode), samples of the current training set are perturbed by
// T_adv gradient-ascent steps (SGD, lr_max 1.0) on
//     CE(x̂, y) − γ · MSE(φ(x), φ(x̂))          ([ada] model.py:58-67)
// (both means over the ascent batch, MSE also over the feature elements:
// slim's / nn.MSELoss's mean), φ the penultimate features, and appended
// to the training set with their labels.
// Min phase: ADA takes its batch from the whole set (source + augmented;
// [ada] :143-152); M-ADA ([mada] :210-241) takes a source batch and, once
// augmentations exist, a batch of the augmented images, and minimises
// (L_src(θ) + L_aug(θ'))/2 with θ' = θ − lr ∇L_src(θ), differentiated
// through the inner step (create_graph).
//
// Storage and ranks (DEVIATION from issue #18's preferred design, stated in
// docs/ALGORITHMS.md): the augmented set is a tracked, replicated tensor of
// the checkpoint (capacity = the k phases' samples), not shards of a
// dataset in the run directory. Each rank perturbs its share (positions
// j ≡ rank mod W) of a phase's samples; the results are gathered in
// position order, so every rank holds the same set, whatever W. A sample's
// ascent depends on that sample only (the networks have no batch
// statistics; the batch mean's 1/B is the fixed algorithm.ada_ascent_batch),
// hence W ranks × b == 1 rank × W·b. The min phase's draws from the union
// are per global sample slot (sample_generator), so the same.
#include "algos/algorithm.h"
#include "algos/common/domain_batches.h"
#include "algos/meta/meta_common.h"
#include "comm/differentiable.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "data/dataset.h"
#include "data/pipeline/domain_split.h"
#include "data/pipeline/loader_config.h"
#include "data/pipeline/transform_pipeline.h"
#include "models/builder.h"
#include "models/layers/fast_weights.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <optional>

namespace uda::algos {

namespace {
using config::Type;

const config::KeyRegistrar kKeys({
    {"algorithm.ada_t_min", Type::Int, 100,
     "ADA/M-ADA: a max phase every T_min iterations ([ada] exp_configuration T_min 100; [mada] --T_min 100)."},
    {"algorithm.ada_k", Type::Int, 0,
     "ADA/M-ADA: number of max phases; 0 = the official default of the method (ADA 6, [ada] "
     "exp_configuration k; M-ADA 3, [mada] main_Digits.py --K)."},
    {"algorithm.ada_t_adv", Type::Int, 0,
     "ADA/M-ADA: gradient-ascent steps per sample in a max phase; 0 = the method's default (ADA 15, "
     "[ada] exp_configuration T_adv; M-ADA 25, [mada] --T_adv)."},
    {"algorithm.ada_lr_max", Type::Number, 1.0,
     "ADA/M-ADA: step size of the ascent ([ada] learning_rate_max 1.0; [mada] --lr_max 1)."},
    {"algorithm.ada_gamma", Type::Number, 1.0,
     "ADA/M-ADA: weight gamma of the feature-distance constraint ([ada] gamma 1.0; [mada] --gamma 1)."},
    {"algorithm.ada_ascent_batch", Type::Int, 32,
     "ADA/M-ADA: the batch of the official ascent (its mean's 1/B scales each sample's step; [ada] batch_size "
     "32, [mada] -b 32); also the chunk size of a rank's ascent."},
    {"algorithm.ada_feature_layer", Type::String, "features",
     "ADA/M-ADA: the layer φ of the constraint; only `features` (the classifier's penultimate features, "
     "[ada] model.py:27 return_feat = fc2) exists."},
    {"algorithm.mada_inner_lr", Type::Number, 0.0,
     "M-ADA: step size of θ' = θ − lr ∇L_src; 0 = optimizer.lr ([mada] main_Digits.py:227 uses args.lr, the "
     "Adam lr 1e-4)."},
});

struct Defaults {
  int64_t k, t_adv;
};

class Ada : public Algorithm {
 public:
  explicit Ada(bool meta) : meta_(meta) {}

  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    const Defaults d = meta_ ? Defaults{3, 25} : Defaults{6, 15};
    t_min_ = cfg.get<int64_t>("algorithm.ada_t_min");
    k_ = cfg.get<int64_t>("algorithm.ada_k");
    t_adv_ = cfg.get<int64_t>("algorithm.ada_t_adv");
    if (k_ < 0)
      throw UserError("algorithm.ada_k is " + std::to_string(k_) + ", must be >= 0", "algorithm.ada_k",
                      "set the number of max phases (0 = the official default)");
    if (t_adv_ < 0)
      throw UserError("algorithm.ada_t_adv is " + std::to_string(t_adv_) + ", must be >= 0", "algorithm.ada_t_adv",
                      "set the ascent steps per phase (0 = the official default)");
    if (t_min_ < 1)
      throw UserError("algorithm.ada_t_min is " + std::to_string(t_min_) + ", must be >= 1", "algorithm.ada_t_min",
                      "set it to the official 100");
    if (k_ == 0) k_ = d.k;
    if (t_adv_ == 0) t_adv_ = d.t_adv;
    lr_max_ = cfg.get<double>("algorithm.ada_lr_max");
    gamma_ = cfg.get<double>("algorithm.ada_gamma");
    ascent_batch_ = cfg.get<int64_t>("algorithm.ada_ascent_batch");
    if (ascent_batch_ < 1)
      throw UserError("algorithm.ada_ascent_batch must be >= 1", "algorithm.ada_ascent_batch",
                      "set it to the official 32");
    const auto layer = cfg.get<std::string>("algorithm.ada_feature_layer");
    if (layer != "features")
      throw UserError("the network has no feature layer '" + layer + "'", "algorithm.ada_feature_layer",
                      "use `features` (the penultimate features, the official φ)");
    inner_lr_ = cfg.get<double>("algorithm.mada_inner_lr");
    if (inner_lr_ == 0.0) inner_lr_ = cfg.json()["optimizer"].value("lr", 1e-4);

    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    update_.emplace(ctx.add_update("model", *net_, cfg.json()["optimizer"]));
    params_ = meta::trainable_parameters(*net_);

    load_source(ctx);
    // Capacity: every phase's samples (ADA: N each; M-ADA: N / (p + 1)).
    int64_t capacity = 0;
    for (int64_t p = 0; p < k_; ++p) capacity += phase_size(p);
    auto shape = source_images_.sizes().vec();
    shape[0] = capacity;
    aug_images_ = torch::zeros(shape, source_images_.options());
    aug_labels_ = torch::zeros({capacity}, torch::kLong);
    aug_count_ = torch::zeros({1}, torch::kLong);
    ctx.track_tensor("ada.aug_images", aug_images_, worker::Replication::Replicated);
    ctx.track_tensor("ada.aug_labels", aug_labels_, worker::Replication::Replicated);
    ctx.track_tensor("ada.aug_count", aug_count_, worker::Replication::Replicated);
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    Scalars s;
    // [ada] :118 / [mada] :123 (advstart_iter 0): a phase before the step
    // of iteration t when (t + 1) % T_min == 0. Phases done = what the
    // tracked set holds (so a resumed run continues where it was).
    const int64_t done = phases_done();
    if ((ctx.iter() + 1) % t_min_ == 0 && done < k_) {
      s.emplace_back("max_phase_loss", max_phase(ctx, done));
    }
    const auto data = concat_domains(batch, ctx, meta_ ? "m_ada" : "ada");
    net_->train();
    update_->zero_grad();
    const int64_t filled = aug_count_.item<int64_t>();
    at::Tensor loss;
    if (!meta_) {
      auto images = data.images.clone();
      auto labels = data.labels.clone();
      // [ada] :136-146: batches of the shuffled union: each row is the
      // source sample the stream drew with probability N / (N + A), else a
      // uniform augmented sample (the union's uniform draw).
      const double p_aug = static_cast<double>(filled) / static_cast<double>(source_count() + filled);
      replace_rows(ctx, data, "ada/pick", p_aug, filled, images, labels);
      models::SampleKeyScope keys(data.keys);
      loss = torch::nn::functional::cross_entropy(net_->forward(images), labels);
      s.emplace_back("loss", loss.item<double>());
    } else {
      models::SampleKeyScope keys(data.keys);
      auto loss_src = torch::nn::functional::cross_entropy(net_->forward(data.images), data.labels);
      if (filled == 0) {
        loss = loss_src;  // [mada] :222-224
      } else {
        // [mada] :225-237: θ' = θ − lr ∇L_src (global batch gradient,
        // differentiable), L_aug(θ') on a batch of the augmented set.
        auto g = meta::global_gradients(ctx, meta::gradients(loss_src, params_, true, true));
        std::vector<at::Tensor> fast(params_.size());
        for (size_t i = 0; i < params_.size(); ++i) fast[i] = params_[i] - inner_lr_ * g[i];
        auto images = data.images.clone();
        auto labels = data.labels.clone();
        replace_rows(ctx, data, "m_ada/aug", 1.0, filled, images, labels);
        models::SampleKeyScope aug_keys(row_keys(ctx, "m_ada/aug", data.domains, data.slots));
        models::FastWeights scope(params_, fast);
        auto loss_aug = torch::nn::functional::cross_entropy(net_->forward(images), labels);
        loss = (loss_src + loss_aug) / 2;
        s.emplace_back("loss_aug", loss_aug.item<double>());
      }
      s.emplace_back("loss_src", loss_src.item<double>());
      s.emplace_back("loss", loss.item<double>());
    }
    s.emplace_back("augmented", static_cast<double>(filled));
    if (!ctx.check_loss("loss", loss)) return s;
    update_->backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  int64_t source_count() const { return source_images_.size(0); }
  // ADA: the whole training set size per phase ([ada] :120, the no_images
  // source images); M-ADA: (len(loader) - 1) / (k + 1) batches of a
  // batch ([mada] :118, :130-132), i.e. about N / (p + 1) samples.
  int64_t phase_size(int64_t p) const { return meta_ ? source_count() / (p + 1) : source_count(); }
  int64_t phases_done() const {
    const int64_t filled = aug_count_.item<int64_t>();
    int64_t p = 0, total = 0;
    while (p < k_ && total + phase_size(p) <= filled) total += phase_size(p++);
    return p;
  }

  // The training domains' in-split samples (DG) or the whole source set,
  // as the data stream delivers them (normalised, model.in_channels planes).
  void load_source(worker::TrainContext& ctx) {
    const auto& cfg = ctx.config();
    const auto& info = ctx.data_info();
    if (info.source.path.empty())
      throw UserError("ADA needs a labelled source dataset", "data.source.path", "name a converted dataset");
    auto ds = data::Dataset::open(info.source.path);
    std::vector<int64_t> indices;
    if (!info.training_domains.empty()) {
      const auto split = data::pipeline::split_domains(cfg, ds->class_stats(), info.source.path);
      for (int d : split.training_domains()) indices.insert(indices.end(), split.in[d].begin(), split.in[d].end());
    } else {
      for (size_t i = 0; i < ds->size(); ++i) indices.push_back(static_cast<int64_t>(i));
    }
    const data::pipeline::Normalizer norm(data::pipeline::transform_config(cfg, "source"));
    const int64_t channels = cfg.get<int64_t>("model.in_channels");
    const auto first = ds->read(static_cast<size_t>(indices.at(0)));
    const int h = first.image.height, w = first.image.width;
    source_images_ = torch::empty({static_cast<int64_t>(indices.size()), channels, h, w}, torch::kFloat32);
    source_labels_ = torch::empty({static_cast<int64_t>(indices.size())}, torch::kLong);
    for (size_t i = 0; i < indices.size(); ++i) {
      const auto sample = ds->read(static_cast<size_t>(indices[i]));
      norm.write_chw(sample.image, source_images_[static_cast<int64_t>(i)].data_ptr<float>(),
                     static_cast<int>(channels), h, w);
      source_labels_[static_cast<int64_t>(i)] = sample.class_label;
    }
  }

  // Rows of the step's batch replaced, each with probability p by a uniform
  // augmented sample, drawn per (domain, global slot) and iteration.
  void replace_rows(worker::TrainContext& ctx, const DomainBatches& data, const std::string& stream, double p,
                    int64_t filled, at::Tensor& images, at::Tensor& labels) const {
    if (filled == 0 || p <= 0) return;
    auto dom = data.domains.to(torch::kCPU).to(torch::kLong);
    std::vector<int64_t> rows, picks;
    for (int64_t i = 0; i < data.slots.size(0); ++i) {
      const int64_t key = dom[i].item<int64_t>() * (int64_t{1} << 40) + data.slots[i].item<int64_t>();
      auto gen = ctx.sample_generator(stream + "/" + std::to_string(ctx.iter()), key);
      auto u = torch::rand({2}, gen, torch::kFloat64);
      if (u[0].item<double>() < p) {
        rows.push_back(i);
        picks.push_back(std::min<int64_t>(filled - 1, static_cast<int64_t>(u[1].item<double>() * filled)));
      }
    }
    if (rows.empty()) return;
    auto r = torch::tensor(rows, torch::kLong);
    auto k = torch::tensor(picks, torch::kLong);
    images.index_copy_(0, r.to(images.device()), aug_images_.index_select(0, k).to(images.device()));
    labels.index_copy_(0, r.to(labels.device()), aug_labels_.index_select(0, k).to(labels.device()));
  }

  // One max phase; returns the mean final ascent objective of this rank's rows.
  double max_phase(worker::TrainContext& ctx, int64_t phase) {
    const int64_t filled = aug_count_.item<int64_t>();
    const int64_t union_size = source_count() + filled;
    const int64_t m = phase_size(phase);
    // [ada] :136-139: the set is shuffled after every phase and the next
    // phase perturbs its first N; a permutation of the union drawn from the
    // step generator (shared by ranks) picks the same samples.
    auto gen = ctx.step_generator("ada/phase");
    const auto chosen = torch::randperm(union_size, gen, torch::kLong).narrow(0, 0, m);
    const int64_t rank = ctx.rank(), world = ctx.world_size();
    auto mine = torch::arange(rank, m, world, torch::kLong);
    net_->eval();
    std::vector<at::Tensor> outs;
    double objective = 0;
    const auto dev = ctx.device();
    for (int64_t start = 0; start < mine.size(0); start += ascent_batch_) {
      auto pos = mine.narrow(0, start, std::min(ascent_batch_, mine.size(0) - start));
      auto idx = chosen.index_select(0, pos);
      auto from_aug = idx >= source_count();
      auto x0 = torch::where(from_aug.view({-1, 1, 1, 1}),
                             aug_images_.index_select(0, (idx - source_count()).clamp_min(0)),
                             source_images_.index_select(0, idx.clamp_max(source_count() - 1)))
                    .to(dev);
      auto y = torch::where(from_aug, aug_labels_.index_select(0, (idx - source_count()).clamp_min(0)),
                            source_labels_.index_select(0, idx.clamp_max(source_count() - 1)))
                   .to(dev);
      at::Tensor phi0;
      {
        torch::NoGradGuard no_grad;
        phi0 = net_->features(x0);
      }
      auto x = x0.clone();
      for (int64_t n = 0; n < t_adv_; ++n) {
        auto xr = x.detach().requires_grad_(true);
        auto f = net_->features(xr);
        auto ce = torch::nn::functional::cross_entropy(
            net_->classify(f), y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
        auto dist = (f - phi0).pow(2).mean(1);
        auto obj = (ce - gamma_ * dist).sum() / static_cast<double>(ascent_batch_);
        auto g = torch::autograd::grad({obj}, {xr})[0];
        x = xr.detach() + lr_max_ * g;  // SGD on −objective ([ada] model.py:71,76)
        if (n + 1 == t_adv_) objective += obj.item<double>();
      }
      outs.push_back(torch::cat({x.flatten(1).to(torch::kCPU), pos.to(torch::kFloat32).view({-1, 1}),
                                 y.to(torch::kCPU).to(torch::kFloat32).view({-1, 1})},
                                1));
    }
    // Every rank's rows in position order (exact: positions and labels are
    // small integers in float32).
    const int64_t width = aug_images_[0].numel() + 2;
    auto local = outs.empty() ? torch::zeros({0, width}) : torch::cat(outs);
    auto all = comm::all_gather_rows(ctx.comm(), local.to(dev)).to(torch::kCPU);
    auto positions = all.select(1, width - 2).to(torch::kLong);
    auto order = std::get<1>(positions.sort());
    all = all.index_select(0, order);
    {
      torch::NoGradGuard no_grad;
      aug_images_.narrow(0, filled, m).copy_(all.narrow(1, 0, width - 2).view(aug_images_.narrow(0, 0, m).sizes()));
      aug_labels_.narrow(0, filled, m).copy_(all.select(1, width - 1).to(torch::kLong));
      aug_count_.fill_(filled + m);
    }
    return ctx.global_sum(objective) / std::max<double>(1.0, static_cast<double>((m + ascent_batch_ - 1) / ascent_batch_));
  }

  bool meta_;
  int64_t t_min_ = 100, k_ = 6, t_adv_ = 15, ascent_batch_ = 32;
  double lr_max_ = 1.0, gamma_ = 1.0, inner_lr_ = 1e-4;
  models::Classifier net_;
  std::optional<worker::Update> update_;
  std::vector<at::Tensor> params_;
  at::Tensor source_images_, source_labels_;  // CPU, not checkpointed (read from the dataset)
  at::Tensor aug_images_, aug_labels_, aug_count_;
};

const AlgorithmRegistrar kRegisterAda("ada", [] { return std::make_unique<Ada>(false); });
const AlgorithmRegistrar kRegisterMada("m_ada", [] { return std::make_unique<Ada>(true); });

}  // namespace
}  // namespace uda::algos
