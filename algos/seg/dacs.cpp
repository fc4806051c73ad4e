// DACS (Tranheden et al., WACV 2021) as implemented in DAFormer's
// mmseg/models/uda/dacs.py [dacs], and DAFormer (Hoyer et al., CVPR 2022),
// which is the same class with the thing-class ImageNet feature distance,
// the pseudo-label crop and EMA alpha 0.999 switched on by its config
// (configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py).
// Registered as "dacs" and "daformer" (the same plugin; the configs carry
// the differences, as in the official code). Rare Class Sampling is the
// source sampler (data.source.sampler = "rcs") and the LR warm-up is the
// schedule (schedule.warmup), both outside the plugin.
//
// One step, in the official order ([dacs] forward_train):
//   1. teacher: copy of the student at iteration 0, else EMA update with
//      alpha_t = min(1 - 1/(t + 1), alpha)            (_init_ema_weights, _update_ema)
//   2. source cross-entropy (+ FD loss on the last backbone stage): backward
//   3. teacher pseudo-labels on the target (dropout and drop-path off, BatchNorm
//      in training mode as in the official loop), confidence weight
//   4. ClassMix source onto target, strong augmentation, weighted CE: backward
//   5. one optimizer step on the accumulated gradients
#include "algos/algorithm.h"
#include "algos/seg/dacs_transforms.h"
#include "algos/seg/seg_loss.h"
#include "algos/seg/uda_helpers.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "worker/ema.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <optional>

namespace uda::algos {

namespace {

using config::Type;

// Defaults are those of DAFormer configs/_base_/uda/dacs.py (plain DACS);
// the DAFormer configs override them.
const config::KeyRegistrar kKeys({
    {"algorithm.alpha", Type::Number, 0.99,
     "DACS/DAFormer: EMA teacher momentum (DACS 0.99, DAFormer 0.999); alpha_t = min(1 - 1/(t+1), alpha)."},
    {"algorithm.pseudo_threshold", Type::Number, 0.968,
     "DACS/DAFormer: confidence threshold tau; the pseudo-label weight is the batch's fraction of pixels >= tau."},
    {"algorithm.pseudo_weight_ignore_top", Type::Int, 0,
     "DACS/DAFormer: rows at the top of each target crop whose pseudo-label weight is 0 (DAFormer 15)."},
    {"algorithm.pseudo_weight_ignore_bottom", Type::Int, 0,
     "DACS/DAFormer: rows at the bottom of each target crop whose pseudo-label weight is 0 (DAFormer 120)."},
    {"algorithm.imnet_feature_dist_lambda", Type::Number, 0.0,
     "DAFormer: weight of the ImageNet feature distance on the last backbone stage (0 = off; DAFormer 0.005)."},
    {"algorithm.imnet_feature_dist_classes", Type::Array, nlohmann::json(),
     "DAFormer: classes whose (down-scaled) source pixels enter the feature distance (null = all pixels)."},
    {"algorithm.imnet_feature_dist_scale_min_ratio", Type::Number, 0.75,
     "DAFormer: majority ratio below which a down-scaled label cell is ignored for the feature distance."},
    {"algorithm.imnet_feature_dist_empty", Type::String, "zero",
     "DAFormer: feature-distance loss when no pixel is selected: zero (uda) | nan (official torch.mean of nothing).",
     false, {"zero", "nan"}},
    {"algorithm.mix", Type::String, "class", "DACS: mixing strategy (the official code supports class only).",
     false, {"class"}},
    {"algorithm.blur", Type::Bool, true, "DACS: Gaussian blur of the mixed images (p 0.5 per step)."},
    {"algorithm.color_jitter_strength", Type::Number, 0.2,
     "DACS: colour jitter strength s (brightness, contrast, saturation, hue)."},
    {"algorithm.color_jitter_probability", Type::Number, 0.2,
     "DACS: jitter is applied when the step's uniform draw exceeds this value (official semantics: p 0.2 -> 80%)."},
    {"algorithm.classmix_exclude_ignore", Type::Bool, false,
     "DACS: leave 255 (ignore) out of the ClassMix class choice (the official code can paste the ignore region)."},
    {"algorithm.classmix_classes_from", Type::String, "batch",
     "DACS: classes ClassMix chooses from: batch (official: unique over the rank's source batch) | sample.",
     false, {"batch", "sample"}},
});

// Copies parameters and buffers of `src` into `dst` (same architecture).
void copy_module(torch::nn::Module& dst, const torch::nn::Module& src) {
  torch::NoGradGuard g;
  auto dp = dst.parameters(), sp = src.parameters();
  for (size_t i = 0; i < dp.size(); ++i) dp[i].copy_(sp[i]);
  auto db = dst.buffers(), sb = src.buffers();
  for (size_t i = 0; i < db.size(); ++i) db[i].copy_(sb[i]);
}

void freeze(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.requires_grad_(false);
}

// [dacs] "Generate pseudo-label": the teacher stays in the wrapper's training
// mode except that _DropoutNd and DropPath modules are switched off. In uda's
// networks dropout, drop-path and BatchNorm are the only mode-dependent
// modules, so: everything in eval mode, then BatchNorm back to training.
void teacher_mode(torch::nn::Module& m) {
  m.eval();
  for (auto& sub : m.modules(/*include_self=*/false))
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(sub.get()) != nullptr) sub->train(true);
}

std::vector<int64_t> int_list(const nlohmann::json& j) {
  std::vector<int64_t> out;
  if (j.is_array())
    for (const auto& v : j) out.push_back(v.get<int64_t>());
  return out;
}

class Dacs : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    alpha_ = cfg.get<double>("algorithm.alpha");
    threshold_ = cfg.get<double>("algorithm.pseudo_threshold");
    ignore_top_ = cfg.get<int64_t>("algorithm.pseudo_weight_ignore_top");
    ignore_bottom_ = cfg.get<int64_t>("algorithm.pseudo_weight_ignore_bottom");
    fd_lambda_ = cfg.get<double>("algorithm.imnet_feature_dist_lambda");
    if (cfg.has("algorithm.imnet_feature_dist_classes"))
      fd_classes_ = int_list(cfg.at("algorithm.imnet_feature_dist_classes"));
    fd_min_ratio_ = cfg.get<double>("algorithm.imnet_feature_dist_scale_min_ratio");
    fd_empty_ = cfg.get<std::string>("algorithm.imnet_feature_dist_empty") == "nan" ? EmptyFeatureDistance::NaN
                                                                                    : EmptyFeatureDistance::Zero;
    blur_ = cfg.get<bool>("algorithm.blur");
    jitter_p_ = cfg.get<double>("algorithm.color_jitter_probability");
    aug_.strength = cfg.get<double>("algorithm.color_jitter_strength");
    exclude_ignore_ = cfg.get<bool>("algorithm.classmix_exclude_ignore");
    classes_from_batch_ = cfg.get<std::string>("algorithm.classmix_classes_from") == "batch";
    aux_weight_ = cfg.get<double>("algorithm.aux_loss_weight");
    // [dacs] get_mean_std: the source images' img_norm_cfg.
    const auto mean = cfg.get<std::vector<double>>("data.source.mean");
    const auto stdv = cfg.get<std::vector<double>>("data.source.std");
    if (mean.size() != 3 || stdv.size() != 3)
      throw UserError("data.source.mean/std must have 3 entries", "data.source.mean", "give one value per RGB channel");
    for (size_t i = 0; i < 3; ++i) {
      aug_.mean[i] = mean[i];
      aug_.std[i] = stdv[i];
    }

    net_ = models::build_segmentor(cfg);
    net_->to(ctx.device());
    align_ = net_->options().align_corners;
    num_classes_ = net_->num_classes();
    ctx.track_module("model", net_);

    // [dacs] __init__: ema_model = build_segmentor(deepcopy(cfg['model'])).
    // Its parameters are set from the student at iteration 0 and never
    // receive gradients.
    const auto spec = models::model_spec(cfg);
    teacher_ = models::build_segmentor(spec);
    teacher_->to(ctx.device());
    freeze(*teacher_);
    ctx.track_module("ema_model", teacher_);

    if (fd_lambda_ > 0) {
      // [dacs] imnet_model: the same architecture initialised from the
      // ImageNet weights (model.pretrained), never trained. A copy of the
      // student's initial state is exactly that (the student was just built
      // from the same file) and also defines the reference when no
      // pretrained file is given (toy models). Tracked so that a resumed run
      // keeps the same reference (the official checkpoint holds imnet_model.* too).
      imnet_ = models::build_segmentor(spec);
      imnet_->to(ctx.device());
      copy_module(*imnet_, *net_);
      freeze(*imnet_);
      imnet_->eval();
      ctx.track_module("imnet_model", imnet_);
    }

    update_.emplace(ctx.add_update("model", *net_, cfg.json()["optimizer"]));
    student_params_ = net_->parameters();
    teacher_params_ = teacher_->parameters();
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto& src = batch.source;
    const auto& tgt = batch.target;
    if (!src.defined() || !src.labels.defined() || !tgt.defined())
      throw UserError("dacs/daformer need labelled source and unlabelled target batches", "data.target.path",
                      "set data.source.path and data.target.path to converted datasets");
    if (src.images.sizes() != tgt.images.sizes())
      throw UserError("dacs/daformer mix source and target crops of the same size and count", "data.target.crop_size",
                      "use the same crop_size and batch for data.source and data.target");
    const int64_t it = ctx.iter();
    Scalars s;

    // 1. [dacs] forward_train: init at local_iter 0, else update before anything else.
    if (it == 0) {
      copy_module(*teacher_, *net_);
    } else {
      const double a = worker::ema_alpha(alpha_, it);
      worker::ema_update(teacher_params_, student_params_, a);
    }

    // 2. Source: [dacs] clean_losses = model.forward_train(img, gt), backward;
    // then the feature distance, backward. Both backward passes only
    // accumulate gradients, so uda runs one backward of their sum (the same
    // gradient, without retain_graph).
    net_->train();
    update_->zero_grad();
    auto src_labels = src.labels.to(torch::kLong);
    models::SampleKeyScope source_keys(ctx.sample_keys("dacs.source", src.indices));
    auto out = net_->forward(src.images);
    // mmseg 0.16 CrossEntropyLoss (reduction mean, no avg_factor): the mean
    // over ALL pixels, ignored ones counting as 0; a unit pixel weight gives
    // exactly that through seg_cross_entropy.
    auto unit = torch::ones(src_labels.sizes(), src.images.options());
    auto loss_src = seg_cross_entropy(out.logits, src_labels, align_, unit);
    s.emplace_back("loss_seg", loss_src.item<double>());
    auto loss = loss_src;
    if (out.aux.defined()) {
      auto aux = seg_cross_entropy(out.aux, src_labels, align_, unit);
      loss = loss + aux_weight_ * aux;
      s.emplace_back("loss_seg_aux", aux.item<double>());
    }
    if (fd_lambda_ > 0) {
      // [dacs] calc_feat_dist: frozen model in eval mode, no grad, last stage.
      std::vector<at::Tensor> feat_imnet;
      {
        torch::NoGradGuard ng;
        imnet_->eval();
        feat_imnet = imnet_->extract_features(src.images);
      }
      auto fd = thing_class_feature_distance(out.features.back(), feat_imnet.back(), src_labels.unsqueeze(1),
                                             fd_classes_, fd_min_ratio_, num_classes_, fd_lambda_, fd_empty_);
      // The mean over the selected pixels of the global batch (the official
      // batch is one GPU's): W ranks x b equal one rank x W*b.
      const double selected = ctx.global_sum(static_cast<double>(fd.selected));
      at::Tensor fd_loss;
      if (selected > 0)
        fd_loss = fd.sum * (static_cast<double>(ctx.world_size()) / selected);
      else
        fd_loss = fd_empty_ == EmptyFeatureDistance::NaN ? torch::full({}, NAN, loss.options())
                                                         : torch::zeros({}, loss.options());
      s.emplace_back("loss_imnet_feat_dist", fd_loss.item<double>());
      s.emplace_back("fd_empty", selected == 0 ? 1.0 : 0.0);
      loss = loss + fd_loss;
    }
    if (!ctx.check_loss("loss_src", loss)) return s;
    loss.backward();
    out = {};

    // 3. Pseudo-labels from the teacher.
    PseudoLabels pl;
    {
      torch::NoGradGuard ng;
      teacher_mode(*teacher_);
      auto logits = teacher_->encode_decode(tgt.images);
      pl = pseudo_labels_from_logits(logits, threshold_, ignore_top_, ignore_bottom_,
                                     [&ctx](double v) { return ctx.global_sum(v); });
    }
    s.emplace_back("pseudo_weight", pl.weight_scalar);

    // 4. ClassMix + strong augmentation ([dacs] "Apply mixing").
    auto mixed = mix(src, src_labels, tgt, pl, ctx);
    models::SampleKeyScope mix_keys(ctx.sample_keys("dacs.mix", src.indices));
    auto out_mix = net_->forward(mixed.images);
    auto loss_mix = seg_cross_entropy(out_mix.logits, mixed.labels, align_, mixed.weight);
    s.emplace_back("loss_mix", loss_mix.item<double>());
    auto total_mix = loss_mix;
    if (out_mix.aux.defined())
      total_mix = total_mix + aux_weight_ * seg_cross_entropy(out_mix.aux, mixed.labels, align_, mixed.weight);
    if (!ctx.check_loss("loss_mix", total_mix)) return s;

    // 5. The last backward of the step exchanges the accumulated gradients.
    update_->backward_and_step(total_mix);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    // The official evaluation uses the student ("model.*"), see
    // tests/fixtures/parity/README.md, checkpoint layouts.
    net_->eval();
    return net_->predict(images);
  }

  // The teacher's argmax, as its pseudo-labels in training, but in eval mode:
  // BatchNorm uses (and keeps) its running statistics, so neither the
  // teacher's buffers nor a synchronised BatchNorm's collective are touched;
  // the next train_step sets the teacher's mode again.
  at::Tensor pseudo_label(const at::Tensor& images) override {
    torch::NoGradGuard ng;
    teacher_->eval();
    return teacher_->predict(images).argmax(1);
  }

 private:
  struct Mixed {
    at::Tensor images, labels, weight;
  };

  Mixed mix(const DomainBatch& src, const at::Tensor& src_labels, const DomainBatch& tgt, const PseudoLabels& pl,
            worker::TrainContext& ctx) {
    torch::NoGradGuard ng;
    // [dacs] strong_parameters: one colour-jitter and one blur draw per step
    // (random.uniform), shared by the step's mixed images; the same for all
    // ranks here, so the decision is made once per global batch.
    auto step_gen = ctx.step_generator("dacs.strong");
    const double u_jitter = torch::empty({1}, torch::kFloat64).uniform_(0, 1, step_gen).item<double>();
    const double u_blur = torch::empty({1}, torch::kFloat64).uniform_(0, 1, step_gen).item<double>();
    StrongAugmentation aug = aug_;
    aug.color_jitter = u_jitter > jitter_p_;  // [dt] color_jitter: applied if color_jitter > p
    aug.blur = blur_ && u_blur > 0.5;         // [dt] gaussian_blur: applied if blur > 0.5

    // [dt] get_class_masks: classes = torch.unique(labels) over the whole
    // batch (the loop variable is not used there), one choice per image.
    // The batch is the global one (every rank's source labels), so the
    // choice does not depend on how the batch is split over ranks.
    const auto batch_classes = classes_from_batch_ ? global_classes(src_labels, ctx) : at::Tensor();
    const int64_t n = src.images.size(0);
    std::vector<at::Tensor> imgs, lbls, wts;
    auto src_idx = src.indices.to(torch::kCPU);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t slot = src_idx[i].item<int64_t>();
      auto gen = ctx.sample_generator("dacs.classmix", slot);
      auto label_i = src_labels[i];
      auto classes = classes_from_batch_ ? batch_classes : std::get<0>(at::_unique(label_i, true));
      auto chosen = choose_mix_classes(classes.cpu(), gen, exclude_ignore_);
      auto mask = class_mix_mask(label_i, chosen);  // [1, H, W]
      auto img = one_mix(mask, src.images[i], tgt.images[i]).unsqueeze(0);
      auto aug_gen = ctx.sample_generator("dacs.strong", slot);
      imgs.push_back(strong_augment(img, aug, aug_gen));
      lbls.push_back(one_mix(mask, label_i, pl.label[i]).to(torch::kLong));
      // [dacs] the pixel weight is mixed the same way: 1 on pasted source pixels.
      wts.push_back(one_mix(mask, torch::ones_like(pl.weight[i]), pl.weight[i]));
    }
    return {torch::cat(imgs), torch::cat(lbls), torch::cat(wts)};
  }

  // Sorted label values present in any rank's labels (255 included).
  static at::Tensor global_classes(const at::Tensor& labels, worker::TrainContext& ctx) {
    auto present = torch::zeros({256}, torch::kDouble);
    present.index_put_({std::get<0>(at::_unique(labels.to(torch::kCPU), /*sorted=*/true))}, 1.0);
    if (ctx.world_size() > 1) ctx.comm().all_reduce(present, comm::ReduceOp::Sum);
    return present.nonzero().squeeze(1).to(torch::kLong);
  }

  models::Segmentor net_, teacher_, imnet_;
  std::vector<at::Tensor> student_params_, teacher_params_;
  std::optional<worker::Update> update_;
  StrongAugmentation aug_;
  double alpha_ = 0.99, threshold_ = 0.968, fd_lambda_ = 0, fd_min_ratio_ = 0.75, jitter_p_ = 0.2;
  double aux_weight_ = 0.1;
  int64_t ignore_top_ = 0, ignore_bottom_ = 0, num_classes_ = 19;
  std::vector<int64_t> fd_classes_;
  EmptyFeatureDistance fd_empty_ = EmptyFeatureDistance::Zero;
  bool blur_ = true, exclude_ignore_ = false, classes_from_batch_ = true, align_ = false;
};

const AlgorithmRegistrar kRegisterDacs("dacs", [] { return std::make_unique<Dacs>(); });
const AlgorithmRegistrar kRegisterDaformer("daformer", [] { return std::make_unique<Dacs>(); });

}  // namespace
}  // namespace uda::algos
