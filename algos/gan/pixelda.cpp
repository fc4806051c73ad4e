// PixelDA: unsupervised pixel-level domain adaptation with a GAN (Bousmalis
// et al., CVPR 2017), as the official TF code trains it (tensorflow/models,
// research/domain_adaptation/pixel_domain_adaptation/: "[pm]" pixelda_model.py,
// "[pl]" pixelda_losses.py, "[ptr]" pixelda_train.py, "[hp]" hparams.py).
//
// Networks (models/gan/pixelda_networks.h): a generator G(x_s, z) that
// renders a source image in the target style, a discriminator D (transferred
// vs real target images) and a task tower T whose first convolution is
// private per input kind (source; transferred, shared by the target).
// Every iteration is one step of each of the two optimizers, in this order
// ([ptr] _train: discriminator_steps = generator_steps = 1):
//  1. D step ([pl] d_step_loss), D and T ([ptr]: the 'discriminator' scope
//     holds the task tower too): with x_f = G(x_s, z), z ~ U(-1, 1)^noise_dims,
//       domain_loss_weight * (BCE(D(x_f), 0) + BCE(D(x_t), 1))
//     + source_task_loss_weight * CE(T_s(x_s), y) + transferred_task_loss_weight * CE(T_f(x_f), y);
//  2. G step ([pl] g_step_loss), G only, with a fresh z:
//       style_transfer_loss_weight * BCE(D(x_f), 1)
//     + transferred_similarity_loss_weight * mpse(x_f, x_s)      ([pl] _transferred_similarity_loss)
//     + task_loss_in_g_weight * transferred_task_loss_weight * CE(T_f(x_f), y)
//     (the official G loss also adds the source CE, a constant for G: left out).
// Prediction: T_f on the image ([pm] create_model: target_task_logits use the
// transferred private layer).
// Optimisation ([ptr] run_training, [hp]): Adam(learning_rate, beta1 =
// adam_beta1) for each step; TF-slim's create_train_op clips EACH gradient
// tensor to norm clip_gradient_norm (slim learning.py clip_gradient_norms, per
// variable, not the global norm: algorithm.clip_mode); lr decay
// (exponential_decay, staircase) is the trainer's schedule (configs/gan/).
// BatchNorm as TF: a network's moving averages are updated only by its own
// step's forward passes ([ptr] update_ops per scope): D's BN runs on batch
// statistics in the G step but its running statistics are restored, and
// likewise G's in the D step; D's two forward passes (transferred, target)
// normalise each with its own batch, as [pm] calls predict_domain twice.
// Data-parallel: z per sample from (seed, stream, global slot); D's dropout and
// noise per sample (SampleKeyScope); BN statistics global under
// runtime.sync_bn; the cross-entropies are means over equal local counts;
// the similarity loss is a SUM over the batch in TF (contrib
// mean_pairwise_squared_error's _scale_losses), taken as the global sum
// (local sum x world size, which the reducer's average turns into the
// gradient of the global sum), or the mean (algorithm.similarity_reduction).
#include "algos/align/common.h"
#include "algos/gan/pixelda_losses.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/gan/pixelda_networks.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace uda::algos::gan {

namespace {
using config::Type;
using nlohmann::json;
namespace F = torch::nn::functional;
using models::gan::PixelDaTaskTowerImpl;

const config::KeyRegistrar kPixelDaKeys({
    {"algorithm.generator", Type::String, "resnet",
     "pixelda: resnet = the official generator ([hp] arch 'resnet'); identity = no generator, the transferred images "
     "are the source images and only the task tower trains (the official 'identity' baseline, [pm] create_model; "
     "source-only and target-only runs).",
     false,
     {"resnet", "identity"}},
    {"algorithm.image_size", Type::Array, json::array({28, 28}),
     "pixelda: [height, width] of the source and target images (the generator's noise plane and the discriminator's "
     "depth depend on it)."},
    {"algorithm.noise_dims", Type::Int, 10, "pixelda: dimension of z ~ U(-1, 1) ([hp] noise_dims)."},
    {"algorithm.resnet_blocks", Type::Int, 6, "pixelda: residual blocks of the generator ([hp] resnet_blocks)."},
    {"algorithm.resnet_filters", Type::Int, 64, "pixelda: generator width ([hp] resnet_filters)."},
    {"algorithm.resnet_residuals", Type::Bool, true, "pixelda: skip connections in the blocks ([hp] resnet_residuals)."},
    {"algorithm.generator_kernel_size", Type::Int, 3, "pixelda: generator kernel ([hp] generator_kernel_size)."},
    {"algorithm.num_discriminator_filters", Type::Int, 64,
     "pixelda: filters of D's first conv, doubled per block ([hp] num_discriminator_filters)."},
    {"algorithm.discriminator_kernel_size", Type::Int, 3, "pixelda: D's kernel ([hp] discriminator_kernel_size)."},
    {"algorithm.discriminator_first_stride", Type::Int, 1,
     "pixelda: stride of D's first conv ([hp] discriminator_first_stride)."},
    {"algorithm.discriminator_conv_block_size", Type::Int, 1,
     "pixelda: convolutions per D block, the last of stride 2 ([hp] discriminator_conv_block_size)."},
    {"algorithm.discriminator_filter_factor", Type::Number, 2.0,
     "pixelda: filter multiplier per D block ([hp] discriminator_filter_factor)."},
    {"algorithm.projection_shape_size", Type::Int, 4,
     "pixelda: D downsamples while its height exceeds this ([hp] projection_shape_size)."},
    {"algorithm.discriminator_noise_stddev", Type::Number, 0.2,
     "pixelda: std of the Gaussian noise added after each D layer ([hp] discriminator_noise_stddev)."},
    {"algorithm.discriminator_image_noise", Type::Bool, false,
     "pixelda: add that noise to D's input images too ([hp] discriminator_image_noise)."},
    {"algorithm.discriminator_dropout_keep_prob", Type::Number, 0.9,
     "pixelda: keep probability of D's dropout ([hp] discriminator_dropout_keep_prob)."},
    {"algorithm.lrelu_leakiness", Type::Number, 0.2, "pixelda: D's leaky ReLU slope ([hp] lrelu_leakiness)."},
    {"algorithm.batch_norm_decay", Type::Number, 0.9,
     "pixelda: BatchNorm moving-average decay, torch momentum 1 - decay ([hp] batch_norm_decay)."},
    {"algorithm.normal_init_std", Type::Number, 0.02, "pixelda: std of the N(0, std) weight init ([hp] normal_init_std)."},
    {"algorithm.domain_loss_weight", Type::Number, 1.0, "pixelda: weight of D's loss ([hp] domain_loss_weight)."},
    {"algorithm.style_transfer_loss_weight", Type::Number, 1.0,
     "pixelda: weight of G's adversarial loss ([hp] style_transfer_loss_weight)."},
    {"algorithm.source_task_loss_weight", Type::Number, 1.0,
     "pixelda: weight of the source cross-entropy ([hp] source_task_loss_weight)."},
    {"algorithm.transferred_task_loss_weight", Type::Number, 1.0,
     "pixelda: weight of the transferred cross-entropy ([hp] transferred_task_loss_weight)."},
    {"algorithm.task_tower_in_g_step", Type::Bool, true,
     "pixelda: G also minimises the task loss of its images ([hp] task_tower_in_g_step)."},
    {"algorithm.task_loss_in_g_weight", Type::Number, 1.0,
     "pixelda: weight of that task loss in G's step ([hp] task_loss_in_g_weight)."},
    {"algorithm.transferred_similarity_loss_weight", Type::Number, 0.0,
     "pixelda: weight of the content-similarity loss between G(x_s) and x_s ([hp] "
     "transferred_similarity_loss_weight; 0 = off)."},
    {"algorithm.transferred_similarity_loss", Type::String, "mpse",
     "pixelda: mpse = mean pairwise squared error; masked_mpse = the same on pixels whose 4th (depth) channel is "
     "< 0.99 (needs 4-channel images) ([hp] transferred_similarity_loss, [pl] _transferred_similarity_loss).",
     false,
     {"mpse", "masked_mpse"}},
    {"algorithm.similarity_reduction", Type::String, "sum",
     "pixelda: how the per-sample pairwise errors combine: sum = over the global batch, as "
     "tf.contrib.losses.mean_pairwise_squared_error does (official); mean = their mean.",
     false,
     {"sum", "mean"}},
    {"algorithm.learning_rate", Type::Number, 1e-3,
     "pixelda: Adam lr of both steps ([hp] learning_rate; decay: the schedule section)."},
    {"algorithm.adam_beta1", Type::Number, 0.5, "pixelda: Adam beta1 of both optimizers ([hp] adam_beta1)."},
    {"algorithm.clip_gradient_norm", Type::Number, 5.0,
     "pixelda: gradient clipping norm of both steps, 0 = off ([hp] clip_gradient_norm)."},
    {"algorithm.clip_mode", Type::String, "per_tensor",
     "pixelda: per_tensor = every gradient tensor clipped to the norm on its own (TF-slim create_train_op, "
     "official); global = the global norm of the step's gradients.",
     false,
     {"per_tensor", "global"}},
    {"algorithm.report_samples", Type::Int, 8,
     "pixelda: source images shown with their transferred versions in `uda report` and samples/ (the first, by "
     "global slot, of the run's first batch; checkpointed)."},
});

json adam(double lr, double beta1, double clip, bool global_clip) {
  // TF AdamOptimizer defaults: beta2 0.999, epsilon 1e-8.
  return {{"type", "adam"},           {"lr", lr},
          {"betas", {beta1, 0.999}},  {"eps", 1e-8},
          {"weight_decay", 0.0},      {"paramwise", json::object()},
          {"grad_clip", global_clip ? clip : 0.0}};
}

// The images' channels of a stream: data.<stream>.channels, or the dataset's
// (manifest.json) when it is 0.
int64_t stream_channels(const config::Config& cfg, const worker::StreamInfo& info, const std::string& stream) {
  const int64_t c = cfg.get<int64_t>("data." + stream + ".channels");
  if (c != 0 || info.path.empty()) return c;
  std::ifstream in(std::filesystem::path(info.path) / "manifest.json");
  if (!in) return 0;
  const auto j = json::parse(in, nullptr, false);
  return j.is_object() && j.contains("channels") ? j["channels"].get<int64_t>() : 0;
}

// Running statistics to put back after a forward pass of another network's
// step ([ptr]: update_ops are per variable scope).
class KeepBuffers {
 public:
  explicit KeepBuffers(torch::nn::Module& m) {
    for (auto& b : m.buffers(true)) saved_.emplace_back(b, b.clone());
  }
  ~KeepBuffers() {
    torch::NoGradGuard no_grad;
    for (auto& [live, copy] : saved_) live.copy_(copy);
  }

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> saved_;
};

// TF-slim clip_gradient_norms: every gradient clipped by its own norm,
// tf.clip_by_norm: g * clip / max(||g||, clip) (no host synchronisation).
void clip_each(const std::vector<at::Tensor>& params, double max_norm) {
  if (max_norm <= 0) return;
  torch::NoGradGuard no_grad;
  for (const auto& p : params)
    if (p.grad().defined()) p.mutable_grad().mul_(max_norm / p.grad().norm().clamp_min(max_norm));
}

class PixelDa : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    align::require_target(ctx, "pixelda");
    identity_ = cfg.get<std::string>("algorithm.generator") == "identity";
    models::gan::PixelDaOptions o;
    o.noise_dims = cfg.get<int64_t>("algorithm.noise_dims");
    if (o.noise_dims < 1)
      throw UserError("algorithm.noise_dims is " + std::to_string(o.noise_dims) + " but z needs at least 1 dimension",
                      "algorithm.noise_dims", "use a positive dimension (the official hparams.py: 10)");
    const auto size = cfg.get<std::vector<int64_t>>("algorithm.image_size");
    if (size.size() != 2 || size[0] < 4 || size[1] < 4)
      throw UserError("algorithm.image_size must be [height, width], at least 4x4", "algorithm.image_size",
                      "set it to the images' size, e.g. [28, 28]");
    o.height = size[0];
    o.width = size[1];
    const int64_t cs = stream_channels(cfg, ctx.data_info().source, "source");
    const int64_t ct = stream_channels(cfg, ctx.data_info().target, "target");
    if (cs != 0 && ct != 0 && cs != ct)
      throw UserError("pixelda's generator turns source images into target images, but the source has " +
                          std::to_string(cs) + " channel(s) and the target " + std::to_string(ct),
                      "data.source.channels",
                      "give both the same channels (data.source.channels=3 repeats a grey source over RGB)");
    o.channels = cs != 0 ? cs : (ct != 0 ? ct : 3);
    o.num_classes = cfg.get<int64_t>("model.num_classes");
    o.resnet_blocks = cfg.get<int64_t>("algorithm.resnet_blocks");
    o.resnet_filters = cfg.get<int64_t>("algorithm.resnet_filters");
    o.resnet_residuals = cfg.get<bool>("algorithm.resnet_residuals");
    o.generator_kernel_size = cfg.get<int64_t>("algorithm.generator_kernel_size");
    o.num_discriminator_filters = cfg.get<int64_t>("algorithm.num_discriminator_filters");
    o.discriminator_kernel_size = cfg.get<int64_t>("algorithm.discriminator_kernel_size");
    o.discriminator_first_stride = cfg.get<int64_t>("algorithm.discriminator_first_stride");
    o.discriminator_conv_block_size = cfg.get<int64_t>("algorithm.discriminator_conv_block_size");
    o.discriminator_filter_factor = cfg.get<double>("algorithm.discriminator_filter_factor");
    o.projection_shape_size = cfg.get<int64_t>("algorithm.projection_shape_size");
    o.discriminator_noise_stddev = cfg.get<double>("algorithm.discriminator_noise_stddev");
    o.discriminator_image_noise = cfg.get<bool>("algorithm.discriminator_image_noise");
    o.discriminator_dropout_keep_prob = cfg.get<double>("algorithm.discriminator_dropout_keep_prob");
    o.lrelu_leakiness = cfg.get<double>("algorithm.lrelu_leakiness");
    o.batch_norm_decay = cfg.get<double>("algorithm.batch_norm_decay");
    o.normal_init_std = cfg.get<double>("algorithm.normal_init_std");
    if (o.discriminator_dropout_keep_prob <= 0 || o.discriminator_dropout_keep_prob > 1)
      throw UserError("algorithm.discriminator_dropout_keep_prob must be in (0, 1]",
                      "algorithm.discriminator_dropout_keep_prob", "the official value is 0.9");
    opts_ = o;
    w_domain_ = cfg.get<double>("algorithm.domain_loss_weight");
    w_style_ = cfg.get<double>("algorithm.style_transfer_loss_weight");
    w_source_ = cfg.get<double>("algorithm.source_task_loss_weight");
    w_transferred_ = cfg.get<double>("algorithm.transferred_task_loss_weight");
    task_in_g_ = cfg.get<bool>("algorithm.task_tower_in_g_step");
    w_task_in_g_ = cfg.get<double>("algorithm.task_loss_in_g_weight");
    w_similarity_ = cfg.get<double>("algorithm.transferred_similarity_loss_weight");
    masked_ = cfg.get<std::string>("algorithm.transferred_similarity_loss") == "masked_mpse";
    if (masked_ && w_similarity_ != 0 && o.channels != 4)
      throw UserError("algorithm.transferred_similarity_loss=masked_mpse masks with a 4th (depth) channel, and the "
                          "images have " + std::to_string(o.channels),
                      "algorithm.transferred_similarity_loss", "use mpse for RGB or grey images");
    sum_similarity_ = cfg.get<std::string>("algorithm.similarity_reduction") == "sum";
    clip_ = cfg.get<double>("algorithm.clip_gradient_norm");
    per_tensor_clip_ = cfg.get<std::string>("algorithm.clip_mode") == "per_tensor";
    report_count_ = cfg.get<int64_t>("algorithm.report_samples");
    seed_ = ctx.seed();

    const double lr = cfg.get<double>("algorithm.learning_rate"), beta1 = cfg.get<double>("algorithm.adam_beta1");
    task_ = models::gan::PixelDaTaskTower(o);
    models::gan::init_pixelda_weights(*task_, o.normal_init_std);
    task_->to(ctx.device());
    ctx.track_module("task_tower", task_.ptr());
    auto d_params = align::named_params(*task_, "task_tower.");
    if (!identity_) {
      gen_ = models::gan::PixelDaGenerator(o);
      models::gan::init_pixelda_weights(*gen_, o.normal_init_std);
      gen_->to(ctx.device());
      disc_ = models::gan::PixelDaDiscriminator(o);
      models::gan::init_pixelda_weights(*disc_, o.normal_init_std);
      disc_->to(ctx.device());
      ctx.track_module("generator", gen_.ptr());
      ctx.track_module("discriminator", disc_.ptr());
      for (auto& p : align::named_params(*disc_, "discriminator.")) d_params.push_back(p);
    }
    // [ptr]: the discriminator scope (D and the task tower) and the generator
    // scope, one Adam each.
    opt_d_ = &ctx.add_optimizer("discriminator", adam(lr, beta1, clip_, !per_tensor_clip_), d_params, true,
                                "algorithm.learning_rate");
    d_tensors_ = align::tensors_of(d_params);
    reducer_d_ = &ctx.add_reducer("discriminator", d_tensors_);
    if (report_count_ < 0)
      throw UserError("algorithm.report_samples must be >= 0", "algorithm.report_samples", "use 0 to show none");
    if (identity_) report_count_ = 0;  // nothing to show without a generator
    if (report_count_ > 0) {
      report_sources_ = torch::zeros({report_count_, o.channels, o.height, o.width},
                                     torch::TensorOptions().device(ctx.device()));
      report_shown_ = torch::zeros({1}, torch::TensorOptions().dtype(torch::kLong).device(ctx.device()));
      ctx.track_tensor("pixelda.report_sources", report_sources_, worker::Replication::Replicated);
      ctx.track_tensor("pixelda.report_shown", report_shown_, worker::Replication::Replicated);
    }
    if (!identity_) {
      const auto g_params = align::named_params(*gen_, "generator.");
      opt_g_ = &ctx.add_optimizer("generator", adam(lr, beta1, clip_, !per_tensor_clip_), g_params, true,
                                  "algorithm.learning_rate");
      g_tensors_ = align::tensors_of(g_params);
      reducer_g_ = &ctx.add_reducer("generator", g_tensors_);
    }
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto& s = batch.source;
    const auto& t = batch.target;
    if (!s.defined() || !s.labels.defined() || s.labels.dim() != 1)
      throw UserError("pixelda needs labelled class ids in the source", "data.source.path",
                      "convert a classification dataset (e.g. uda convert --format idx)");
    if (!t.defined()) throw UserError("pixelda needs target images", "data.target.path", "set data.target.path");
    check_images(s.images, t.images);
    if (report_count_ > 0 && report_shown_.item<int64_t>() == 0) keep_report_sources(s, ctx);

    Scalars out;
    d_step(s, t, ctx, out);
    if (!identity_) g_step(s, ctx, out);
    return out;
  }

  at::Tensor predict(const at::Tensor& images) override {
    task_->eval();
    return task_->forward(images, PixelDaTaskTowerImpl::Input::Transferred);
  }

  // The same source images (the run's first global batch's) and noise at every
  // evaluation, G in eval mode (running statistics): nothing drawn from a
  // shared stream, no state changed.
  std::vector<std::pair<std::string, at::Tensor>> report_images() override {
    const int64_t n = report_shown_.defined() ? report_shown_.item<int64_t>() : 0;
    if (identity_ || n == 0) return {};
    torch::NoGradGuard no_grad;
    const auto sources = report_sources_.narrow(0, 0, n);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(worker::mix_seed(seed_, "pixelda/report_z", 0));
    auto z = torch::empty({n, opts_.noise_dims}).uniform_(-1.0, 1.0, gen).to(sources.device());
    const bool was_training = gen_->is_training();
    gen_->eval();
    auto transferred = gen_->forward(sources, z);
    gen_->train(was_training);
    // Images are [-1, 1] in PixelDA ([pm] create_model): shown as [0, 1].
    auto show = [](const at::Tensor& x) { return ((x.to(torch::kCPU, torch::kFloat) + 1.0) / 2.0).clamp(0.0, 1.0); };
    return {{"pixelda source", show(sources)}, {"pixelda transferred", show(transferred)}};
  }

 private:
  void check_images(const at::Tensor& xs, const at::Tensor& xt) const {
    auto shape = [](const at::Tensor& x) {
      return std::to_string(x.size(1)) + "x" + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3));
    };
    if (xs.size(1) != xt.size(1) || xs.size(2) != xt.size(2) || xs.size(3) != xt.size(3))
      throw UserError("pixelda's generator needs source and target images of one size and channel count, and the "
                          "source images are " + shape(xs) + " (CxHxW), the target images " + shape(xt),
                      "data.target.crop_size",
                      "convert or crop both domains to the same size (data.source.crop_size, data.target.crop_size) "
                      "and the same channels (data.source.channels, data.target.channels)");
    if (xs.size(1) != opts_.channels || xs.size(2) != opts_.height || xs.size(3) != opts_.width)
      throw UserError("the images are " + shape(xs) + " (CxHxW) but pixelda was built for " +
                          std::to_string(opts_.channels) + "x" + std::to_string(opts_.height) + "x" +
                          std::to_string(opts_.width),
                      "algorithm.image_size",
                      "set algorithm.image_size=[" + std::to_string(xs.size(2)) + "," + std::to_string(xs.size(3)) +
                          "]");
  }

  // The first report_samples source images of the run's first global batch
  // (by global slot, so any world size keeps the same ones), replicated and
  // checkpointed: a resumed run shows the same images.
  void keep_report_sources(const DomainBatch& s, worker::TrainContext& ctx) {
    torch::NoGradGuard no_grad;
    auto images = align::gather_rows(ctx, s.images.detach());
    auto slots = align::gather_rows(ctx, s.indices.to(s.images.device()));
    const int64_t n = std::min<int64_t>(report_count_, images.size(0));
    auto first = images.index_select(0, slots.argsort().narrow(0, 0, n));
    report_sources_.narrow(0, 0, n).copy_(first);
    report_shown_.fill_(n);
  }

  // z ~ U(-1, 1)^noise_dims per source sample, from (seed, stream, global slot).
  at::Tensor noise(const DomainBatch& s, const worker::TrainContext& ctx, const std::string& stream) const {
    const auto slots = s.indices.to(torch::kCPU).contiguous();
    auto z = torch::empty({slots.size(0), opts_.noise_dims});
    for (int64_t i = 0; i < slots.size(0); ++i) {
      auto gen = ctx.sample_generator(stream, slots[i].item<int64_t>());
      z[i].uniform_(-1.0, 1.0, gen);
    }
    return z.to(s.images.device());
  }

  void step(worker::OptimizerBundle& opt, comm::GradReducer& reducer, const std::vector<at::Tensor>& params,
            const at::Tensor& loss) {
    reducer.arm();
    loss.backward();
    reducer.finalize();
    if (per_tensor_clip_)
      clip_each(params, clip_);
    else
      opt.clip_gradients();
    opt.step();
  }

  void d_step(const DomainBatch& s, const DomainBatch& t, worker::TrainContext& ctx, Scalars& out) {
    task_->train();
    at::Tensor transferred = s.images;
    at::Tensor loss = torch::zeros({}, s.images.options());
    if (!identity_) {
      gen_->train();
      disc_->train();
      align::set_requires_grad(*disc_, true);
      {
        torch::NoGradGuard no_grad;
        KeepBuffers keep(*gen_);
        transferred = gen_->forward(s.images, noise(s, ctx, "pixelda/d_step/z"));
      }
      if (w_domain_ != 0) {
        at::Tensor d_fake, d_real;
        {
          models::SampleKeyScope keys(ctx.sample_keys("pixelda/d_step/transferred", s.indices));
          d_fake = disc_->forward(transferred);
        }
        {
          models::SampleKeyScope keys(ctx.sample_keys("pixelda/d_step/target", t.indices));
          d_real = disc_->forward(t.images);
        }
        auto domain = w_domain_ * (sigmoid_cross_entropy_mean(d_fake, 0.0) + sigmoid_cross_entropy_mean(d_real, 1.0));
        loss = loss + domain;
        out.emplace_back("domain_loss", domain.item<double>());
        out.emplace_back("d_accuracy", 0.5 * (d_fake.detach().lt(0).to(torch::kDouble).mean().item<double>() +
                                              d_real.detach().ge(0).to(torch::kDouble).mean().item<double>()));
      }
    }
    auto ce_source = F::cross_entropy(task_->forward(s.images, PixelDaTaskTowerImpl::Input::Source), s.labels);
    auto ce_transferred =
        F::cross_entropy(task_->forward(transferred, PixelDaTaskTowerImpl::Input::Transferred), s.labels);
    loss = loss + w_source_ * ce_source + w_transferred_ * ce_transferred;
    out.emplace_back("loss", ce_source.item<double>());
    out.emplace_back("task_loss_transferred", ce_transferred.item<double>());
    out.emplace_back("d_loss", loss.item<double>());
    opt_d_->zero_grad();
    if (!ctx.check_loss("d_loss", loss)) return;
    step(*opt_d_, *reducer_d_, d_tensors_, loss);
  }

  void g_step(const DomainBatch& s, worker::TrainContext& ctx, Scalars& out) {
    gen_->train();
    disc_->train();
    align::set_requires_grad(*disc_, false);
    align::set_requires_grad(*task_, false);
    // D's running statistics are put back after the backward pass (the
    // forward saved them for it).
    KeepBuffers keep(*disc_);
    auto transferred = gen_->forward(s.images, noise(s, ctx, "pixelda/g_step/z"));
    at::Tensor loss = torch::zeros({}, s.images.options());
    if (w_style_ != 0) {
      models::SampleKeyScope keys(ctx.sample_keys("pixelda/g_step/transferred", s.indices));
      auto style = w_style_ * sigmoid_cross_entropy_mean(disc_->forward(transferred), 1.0);
      loss = loss + style;
      out.emplace_back("style_loss", style.item<double>());
    }
    if (w_similarity_ != 0) {
      auto per_sample = masked_ ? masked_pairwise_squared_error_per_sample(transferred, s.images)
                                : pairwise_squared_error_per_sample(transferred, s.images);
      // sum: the global batch's sum is (1/W) sum_r (W local_sum_r), what the
      // reducer's average of the ranks' gradients of W * local_sum gives.
      auto similarity = w_similarity_ * (sum_similarity_ ? per_sample.sum() * static_cast<double>(ctx.world_size())
                                                         : per_sample.mean());
      loss = loss + similarity;
      out.emplace_back("similarity_loss", similarity.item<double>());
    }
    if (task_in_g_ && w_task_in_g_ != 0 && w_transferred_ != 0) {
      auto ce = F::cross_entropy(task_->forward(transferred, PixelDaTaskTowerImpl::Input::Transferred), s.labels);
      loss = loss + w_task_in_g_ * w_transferred_ * ce;
    }
    out.emplace_back("g_loss", loss.item<double>());
    opt_g_->zero_grad();
    const bool ok = ctx.check_loss("g_loss", loss);
    if (ok) step(*opt_g_, *reducer_g_, g_tensors_, loss);
    align::set_requires_grad(*disc_, true);
    align::set_requires_grad(*task_, true);
  }

  models::gan::PixelDaOptions opts_;
  bool identity_ = false, task_in_g_ = true, masked_ = false, sum_similarity_ = true, per_tensor_clip_ = true;
  double w_domain_ = 1, w_style_ = 1, w_source_ = 1, w_transferred_ = 1, w_task_in_g_ = 1, w_similarity_ = 0;
  double clip_ = 5;
  int64_t report_count_ = 8;
  uint64_t seed_ = 0;
  models::gan::PixelDaGenerator gen_{nullptr};
  models::gan::PixelDaDiscriminator disc_{nullptr};
  models::gan::PixelDaTaskTower task_{nullptr};
  worker::OptimizerBundle* opt_d_ = nullptr;
  worker::OptimizerBundle* opt_g_ = nullptr;
  comm::GradReducer* reducer_d_ = nullptr;
  comm::GradReducer* reducer_g_ = nullptr;
  std::vector<at::Tensor> d_tensors_, g_tensors_;
  at::Tensor report_sources_, report_shown_;
};

const AlgorithmRegistrar kRegister("pixelda", [] { return std::make_unique<PixelDa>(); });

}  // namespace
}  // namespace uda::algos::gan
