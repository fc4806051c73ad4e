// ADVENT (Vu et al., CVPR 2019): "minent" (direct entropy minimisation) and
// "advent" (adversarial entropy minimisation), one plugin with a mode, as
// the official code's train_minent / train_advent
// (github.com/valeoai/ADVENT, advent/domain_adaptation/train_UDA.py,
// commit 7d6f78d). Every step below cites that file unless noted.
//
// Exactness notes (docs/ALGORITHMS.md, "ADVENT"):
//  - predictions are upsampled to the input size (bilinear, align_corners as
//    model.align_corners: the ADVENT configs set true, as `interp` /
//    `interp_target` do) before the losses and the discriminators;
//  - MULTI_LEVEL is the model's auxiliary classifier (model.head.multi_level
//    of DeepLabV2); heads without an auxiliary output train the main level;
//  - the class-ratio prior is not in the release: issue #9's formula.
#include "algos/seg/advent_losses.h"
#include "algos/algorithm.h"
#include "algos/seg/seg_loss.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "data/dataset.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "models/discriminator.h"
#include "models/ops.h"
#include "worker/train_context.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

namespace uda::algos {

namespace {
using config::Type;
using nlohmann::json;

// config.py: LEARNING_RATE_D 1e-4; train_UDA.py: optim.Adam(..., betas=(0.9, 0.99)),
// no weight decay.
json default_discriminator_optimizer() {
  return {{"type", "adam"}, {"lr", 1e-4}, {"betas", {0.9, 0.99}}, {"weight_decay", 0.0}, {"eps", 1e-8}};
}

const config::KeyRegistrar kKeys({
    {"algorithm.lambda_ent_main", Type::Number, 1e-3, "MinEnt: weight of the main-level entropy loss (LAMBDA_ENT_MAIN)."},
    {"algorithm.lambda_ent_aux", Type::Number, 2e-4, "MinEnt: weight of the auxiliary-level entropy loss (LAMBDA_ENT_AUX)."},
    {"algorithm.lambda_adv_main", Type::Number, 1e-3,
     "AdvEnt: weight of the main-level adversarial loss (LAMBDA_ADV_MAIN)."},
    {"algorithm.lambda_adv_aux", Type::Number, 2e-4,
     "AdvEnt: weight of the auxiliary-level adversarial loss (LAMBDA_ADV_AUX)."},
    {"algorithm.discriminator_optimizer", Type::Object, default_discriminator_optimizer(),
     "AdvEnt: optimizer section of each discriminator (ADVENT: Adam lr 1e-4, betas 0.9/0.99, no decay); "
     "its lr follows the schedule like the segmentation net's."},
    {"algorithm.discriminator_ndf", Type::Int, 64, "AdvEnt: width of the first discriminator conv (ndf)."},
    {"algorithm.lambda_prior", Type::Number, 0.0,
     "ADVENT class-ratio prior weight (0 = off): sum_c max(0, mu*p_s[c] - mean target softmax[c])."},
    {"algorithm.bgr_input", Type::Bool, false,
     "Feed the network BGR images (ADVENT's Caffe-converted DeepLabV2 ImageNet weights; pair with data.*.mean "
     "= IMG_MEAN in RGB order and std 1)."},
    {"algorithm.prior_mu", Type::Number, 1.0,
     "Class-ratio prior relaxation mu (1 = issue #9's formula; the paper uses 0.5)."},
});

worker::NamedParameters named_params(torch::nn::Module& m) {
  worker::NamedParameters out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  return out;
}

std::vector<at::Tensor> param_list(const worker::NamedParameters& np) {
  std::vector<at::Tensor> ps;
  for (const auto& kv : np) ps.push_back(kv.second);
  return ps;
}

// "only train segnet. Don't accumulate grads in discriminators" and back.
void set_requires_grad(torch::nn::Module& m, bool on) {
  for (auto& p : m.parameters()) p.set_requires_grad(on);
}

enum class Mode { MinEnt, AdvEnt };

// One discriminator with its optimizer and reducer.
struct Discriminator {
  torch::nn::Sequential net{nullptr};
  worker::OptimizerBundle* opt = nullptr;
  comm::GradReducer* reducer = nullptr;
  explicit operator bool() const { return !net.is_empty(); }
};

class Advent : public Algorithm {
 public:
  explicit Advent(Mode mode) : mode_(mode) {}

  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    net_ = models::build_segmentor(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    auto params = named_params(*net_);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], params);
    reducer_ = &ctx.add_reducer("model", param_list(params));
    align_ = net_->options().align_corners;
    const auto spec = models::model_spec(cfg);
    multi_level_ = spec.head == "deeplabv2" && spec.multi_level;

    aux_weight_ = cfg.get<double>("algorithm.aux_loss_weight");
    lambda_ent_main_ = cfg.get<double>("algorithm.lambda_ent_main");
    lambda_ent_aux_ = cfg.get<double>("algorithm.lambda_ent_aux");
    lambda_adv_main_ = cfg.get<double>("algorithm.lambda_adv_main");
    lambda_adv_aux_ = cfg.get<double>("algorithm.lambda_adv_aux");
    lambda_prior_ = cfg.get<double>("algorithm.lambda_prior");
    prior_mu_ = cfg.get<double>("algorithm.prior_mu");
    bgr_ = cfg.get<bool>("algorithm.bgr_input");

    if (mode_ == Mode::AdvEnt) {
      // d_aux is built before d_main, as in train_advent.
      const int64_t ndf = cfg.get<int64_t>("algorithm.discriminator_ndf");
      json section = default_discriminator_optimizer();
      if (cfg.has("algorithm.discriminator_optimizer"))
        section.merge_patch(cfg.at("algorithm.discriminator_optimizer"));
      auto make = [&](const std::string& name) {
        Discriminator d;
        d.net = models::make_fc_discriminator(net_->num_classes(), ndf);
        d.net->to(ctx.device());
        ctx.track_module(name, d.net.ptr());
        auto np = named_params(*d.net);
        // adjust_learning_rate_discriminator: the same poly schedule from
        // LEARNING_RATE_D, hence scheduled with its own base lr.
        d.opt = &ctx.add_optimizer(name, section, np, true, "algorithm.discriminator_optimizer");
        d.reducer = &ctx.add_reducer(name, param_list(np));
        return d;
      };
      if (multi_level_) d_aux_ = make("d_aux");
      d_main_ = make("d_main");
    }

    if (lambda_prior_ > 0.0) {
      const auto path = cfg.get<std::string>("data.source.path");
      data::OpenOptions oo;
      oo.verify_checksums = false;  // only class_stats.json is read
      std::vector<double> ratio;
      try {
        ratio = class_ratio_from_pixels(data::Dataset::open(path, oo)->class_stats().class_pixels(),
                                        net_->num_classes());
      } catch (const std::invalid_argument& e) {
        throw UserError(std::string("class-ratio prior: ") + e.what(), "data.source.path",
                        "use a labelled segmentation source dataset with the model's classes, or algorithm.lambda_prior=0");
      }
      source_ratio_ = torch::tensor(ratio, torch::kDouble).to(torch::kFloat).to(ctx.device());
    }
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    net_->train();
    // reset optimizers
    opt_->zero_grad();
    for (auto* d : {&d_aux_, &d_main_})
      if (*d) d->opt->zero_grad();
    for (auto* d : {&d_aux_, &d_main_})
      if (*d) set_requires_grad(*d->net, false);

    // train on source: LAMBDA_SEG_MAIN (1) * main + LAMBDA_SEG_AUX * aux, the
    // logits upsampled to the input size (`interp`).
    // CrossEntropy2d averages over the valid pixels of the (global) batch.
    auto cross_entropy = [&](const at::Tensor& pred) {
      auto ce = seg_cross_entropy_sum(pred, batch.source.labels, align_);
      return ctx.global_mean(ce.sum, ce.count);
    };
    const int64_t hs = batch.source.images.size(2), ws = batch.source.images.size(3);
    at::Tensor pred_src_main, pred_src_aux;
    models::SegmentorOutput out_s;
    {
      models::SampleKeyScope keys(ctx.sample_keys("advent.source", batch.source.indices));
      out_s = net_->forward(input(batch.source.images));
    }
    check_levels(out_s);
    pred_src_main = resize_logits(out_s.logits, hs, ws, align_);
    auto loss_seg_main = cross_entropy(pred_src_main);
    auto loss_seg = loss_seg_main;
    Scalars s{{"loss_seg", loss_seg_main.item<double>()}};
    if (multi_level_) {
      pred_src_aux = resize_logits(out_s.aux, hs, ws, align_);
      auto loss_seg_aux = cross_entropy(pred_src_aux);
      loss_seg = loss_seg + aux_weight_ * loss_seg_aux;
      s.emplace_back("loss_seg_aux", loss_seg_aux.item<double>());
    }
    if (!ctx.check_loss("loss_seg", loss_seg)) return s;
    loss_seg.backward();  // not the last backward of the segmentation net: no arm()

    // target: predictions upsampled to the target input size (`interp_target`)
    const int64_t ht = batch.target.images.size(2), wt = batch.target.images.size(3);
    models::SegmentorOutput out_t;
    {
      models::SampleKeyScope keys(ctx.sample_keys("advent.target", batch.target.indices));
      out_t = net_->forward(input(batch.target.images));
    }
    check_levels(out_t);
    auto pred_trg_main = resize_logits(out_t.logits, ht, wt, align_);
    at::Tensor pred_trg_aux;
    if (multi_level_) pred_trg_aux = resize_logits(out_t.aux, ht, wt, align_);
    auto prob_trg_main = torch::softmax(pred_trg_main, 1);

    at::Tensor loss_trg;
    std::string trg_name;
    if (mode_ == Mode::MinEnt) {
      // train_minent: LAMBDA_ENT_AUX * entropy(aux) + LAMBDA_ENT_MAIN * entropy(main)
      auto ent_main = advent_entropy_loss(prob_trg_main);
      loss_trg = lambda_ent_main_ * ent_main;
      s.emplace_back("loss_ent", ent_main.item<double>());
      if (multi_level_) {
        auto ent_aux = advent_entropy_loss(torch::softmax(pred_trg_aux, 1));
        loss_trg = loss_trg + lambda_ent_aux_ * ent_aux;
        s.emplace_back("loss_ent_aux", ent_aux.item<double>());
      }
      trg_name = "loss_ent";
    } else {
      // train_advent: fool the discriminators, i.e. BCE against the source label 0.
      auto adv_main = advent_bce_loss(d_main_.net->forward(models::prob_2_entropy(prob_trg_main)), kSourceLabel);
      loss_trg = lambda_adv_main_ * adv_main;
      s.emplace_back("loss_adv", adv_main.item<double>());
      if (multi_level_) {
        auto adv_aux = advent_bce_loss(
            d_aux_.net->forward(models::prob_2_entropy(torch::softmax(pred_trg_aux, 1))), kSourceLabel);
        loss_trg = loss_trg + lambda_adv_aux_ * adv_aux;
        s.emplace_back("loss_adv_aux", adv_aux.item<double>());
      }
      trg_name = "loss_adv";
    }
    if (lambda_prior_ > 0.0) {
      auto prior = class_ratio_prior_loss(prob_trg_main, source_ratio_, prior_mu_);
      loss_trg = loss_trg + lambda_prior_ * prior;
      s.emplace_back("loss_prior", prior.item<double>());
    }
    if (!ctx.check_loss(trg_name, loss_trg)) return s;
    // The last backward of the segmentation net in this step: exchange its
    // gradients while it runs.
    reducer_->arm();
    loss_trg.backward();
    reducer_->finalize();

    if (mode_ == Mode::AdvEnt) train_discriminators(pred_src_main, pred_src_aux, pred_trg_main, pred_trg_aux, s);

    opt_->clip_gradients();
    opt_->step();
    for (auto* d : {&d_aux_, &d_main_})
      if (*d) d->opt->step();
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    // eval_UDA.py: the main output (model(image)[1]) upsampled bilinearly
    // with align_corners=True (encode_decode with model.align_corners).
    net_->eval();
    return net_->predict(input(images));
  }

 private:
  static constexpr double kSourceLabel = 0.0;
  static constexpr double kTargetLabel = 1.0;

  // BaseDataset.preprocess: image[:, :, ::-1] - IMG_MEAN. The pipeline
  // already subtracted the mean (given in RGB order); only the channel order
  // is left to flip.
  at::Tensor input(const at::Tensor& images) const { return bgr_ ? images.flip({1}) : images; }

  void check_levels(const models::SegmentorOutput& out) const {
    if (multi_level_ && !out.aux.defined())
      throw std::logic_error("advent: multi-level model returned no auxiliary logits");
  }

  // "Train discriminator networks": source (label 0) then target (label 1)
  // predictions, detached, each loss halved and back-propagated on its own:
  // d_aux source, d_main source, d_aux target, d_main target. The target
  // pass is each discriminator's last backward, so its reducer is armed there.
  void train_discriminators(const at::Tensor& pred_src_main, const at::Tensor& pred_src_aux,
                            const at::Tensor& pred_trg_main, const at::Tensor& pred_trg_aux, Scalars& s) {
    for (auto* d : {&d_aux_, &d_main_})
      if (*d) set_requires_grad(*d->net, true);
    auto d_loss = [](Discriminator& d, const at::Tensor& logits, double label) {
      auto p = models::prob_2_entropy(torch::softmax(logits.detach(), 1));
      return advent_bce_loss(d.net->forward(p), label) / 2;
    };
    double d_aux_total = 0.0, d_main_total = 0.0;
    if (d_aux_) {
      auto l = d_loss(d_aux_, pred_src_aux, kSourceLabel);
      l.backward();
      d_aux_total += l.item<double>();
    }
    {
      auto l = d_loss(d_main_, pred_src_main, kSourceLabel);
      l.backward();
      d_main_total += l.item<double>();
    }
    if (d_aux_) {
      auto l = d_loss(d_aux_, pred_trg_aux, kTargetLabel);
      d_aux_.reducer->arm();
      l.backward();
      d_aux_.reducer->finalize();
      d_aux_total += l.item<double>();
    }
    {
      auto l = d_loss(d_main_, pred_trg_main, kTargetLabel);
      d_main_.reducer->arm();
      l.backward();
      d_main_.reducer->finalize();
      d_main_total += l.item<double>();
    }
    // Logged as the whole discriminator loss (source half + target half);
    // the official print shows the target half only.
    s.emplace_back("loss_d", d_main_total);
    if (d_aux_) s.emplace_back("loss_d_aux", d_aux_total);
  }

  Mode mode_;
  models::Segmentor net_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
  Discriminator d_aux_, d_main_;
  at::Tensor source_ratio_;
  bool align_ = false;
  bool multi_level_ = false;
  bool bgr_ = false;
  double aux_weight_ = 0.1;
  double lambda_ent_main_ = 1e-3, lambda_ent_aux_ = 2e-4;
  double lambda_adv_main_ = 1e-3, lambda_adv_aux_ = 2e-4;
  double lambda_prior_ = 0.0, prior_mu_ = 1.0;
};

const AlgorithmRegistrar kMinEnt("minent", [] { return std::make_unique<Advent>(Mode::MinEnt); });
const AlgorithmRegistrar kAdvEnt("advent", [] { return std::make_unique<Advent>(Mode::AdvEnt); });

}  // namespace
}  // namespace uda::algos
