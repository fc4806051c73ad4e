// DMG: Domain-specific Masks for Generalization (Chattopadhyay, Balaji &
// Hoffman, ECCV 2020; official code prithv1/DMG 6b162b4 [dmg]).
//
// Per source domain a learnable logit vector at each masked point of the
// classifier (models/classifiers/classifier.h hook points): ResNet the
// channels entering layer3, layer4 and the classifier ([dmg]
// models/subnetwork_supermask_model.py RESNET_LAYERS, conv_mode channel
// masks RESNET*_CNV_LAYER_SIZES); MNIST_CNN, by analogy, the channels
// entering conv3, conv4 and the classifier (algorithm.dmg_layers).
//  - training ([dmg] trainers/subnetwork_supermask_trainer.py :147-194,
//    POLICY_SAMPLE_MODE "sample"): each sample masked by its own domain's
//    mask, a Bernoulli draw of p = sigmoid(logits) with a straight-through
//    gradient; the draws come from the per-sample generators
//    (TrainContext::sample_generator keyed by domain and global slot), so a
//    sample's mask does not depend on the rank that holds it;
//    loss = CE + overlap_lambda * sum over points of the mean soft IoU over
//    domain pairs (+ sparsity_lambda * sum of p, 0 in the official configs);
//    one backward, two Adam optimizers: the network's (the optimizer.*
//    section) and the masks' (POLICY_LEARNING_RATE 1e-4,
//    POLICY_WEIGHT_DECAY 1e-5 of configs/PACS/supermask_training.yml);
//  - evaluation of a training domain ("val", :300-311): that domain's mask,
//    hard p > 0.5 ("greedy");
//  - an unseen domain ("test", :313-333): for every source domain the
//    network with its soft mask p ("softscale"), the logits averaged.
// The evaluation learns the images' domain through
// Algorithm::set_eval_domain; without one (uda eval of a checkpoint, a
// single validation set) it predicts as for an unseen domain.
#include "algos/algorithm.h"
#include "algos/align/common.h"
#include "algos/common/domain_batches.h"
#include "algos/dynamic/dmg_masks.h"
#include "core/config.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/classifiers/classifier.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <algorithm>

namespace uda::algos::dynamic {
namespace {
using config::Type;
using nlohmann::json;
namespace F = torch::nn::functional;

const config::KeyRegistrar kDmgKeys({
    {"algorithm.dmg_layers", Type::Array, json::array(),
     "dmg: the masked points (inputs of these layers): empty = layer3, layer4, fc on ResNets ([dmg] RESNET_LAYERS), "
     "conv3, conv4, fc on mnist_cnn."},
    {"algorithm.dmg_overlap_lambda", Type::Number, 0.1,
     "dmg: weight of the masks' soft-IoU overlap penalty ([dmg] OPTIM.OVERLAP_LAMBDA 0.1)."},
    {"algorithm.dmg_sparsity_lambda", Type::Number, 0.0,
     "dmg: weight of the sum of the mask probabilities ([dmg] OPTIM.SPARSITY_LAMBDA 0)."},
    {"algorithm.dmg_mask_lr", Type::Number, 1e-4, "dmg: Adam lr of the masks ([dmg] OPTIM.POLICY_LEARNING_RATE)."},
    {"algorithm.dmg_mask_weight_decay", Type::Number, 1e-5,
     "dmg: Adam weight decay of the masks ([dmg] OPTIM.POLICY_WEIGHT_DECAY)."},
    {"algorithm.dmg_mask_init", Type::String, "random_uniform",
     "dmg: initial logits: random_uniform (U[0, 1), [dmg] MASK_INIT_SETTING) | scalar (algorithm.dmg_mask_init_scalar).",
     false, {"random_uniform", "scalar"}},
    {"algorithm.dmg_mask_init_scalar", Type::Number, 1.0, "dmg: the logit of the scalar init ([dmg] MASK_INIT_SCALAR)."},
});

json adam(double lr, double weight_decay) {
  return {{"type", "adam"}, {"lr", lr}, {"betas", {0.9, 0.999}}, {"weight_decay", weight_decay}, {"eps", 1e-8},
          {"paramwise", json::object()}};
}

class Dmg : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    domains_ = ctx.data_info().training_domains;
    align::require_training_domains(ctx, "dmg");
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    std::vector<std::string> layers = cfg.has("algorithm.dmg_layers")
                                          ? cfg.at("algorithm.dmg_layers").get<std::vector<std::string>>()
                                          : std::vector<std::string>{};
    const auto points = net_->hook_points();
    if (layers.empty()) {
      const bool resnet = cfg.get<std::string>("model.backbone.type") != "mnist_cnn";
      layers = resnet ? std::vector<std::string>{"layer3", "layer4", "fc"}
                      : std::vector<std::string>{"conv3", "conv4", "fc"};
    }
    std::vector<std::pair<std::string, int64_t>> chosen;
    for (const auto& l : layers) {
      auto it = std::find_if(points.begin(), points.end(), [&](const auto& p) { return p.first == l; });
      if (it == points.end()) {
        std::string known;
        for (const auto& p : points) known += (known.empty() ? "" : ", ") + p.first;
        throw UserError("algorithm.dmg_layers names '" + l + "', which " +
                            cfg.get<std::string>("model.backbone.type") + " does not have",
                        "algorithm.dmg_layers", "use points of the backbone: " + known);
      }
      chosen.push_back(*it);
    }
    overlap_lambda_ = cfg.get<double>("algorithm.dmg_overlap_lambda");
    sparsity_lambda_ = cfg.get<double>("algorithm.dmg_sparsity_lambda");
    masks_ = DomainMasks(chosen, static_cast<int64_t>(domains_.size()), cfg.get<std::string>("algorithm.dmg_mask_init"),
                         cfg.get<double>("algorithm.dmg_mask_init_scalar"));
    masks_->to(ctx.device());
    ctx.track_module("model", net_);
    ctx.track_module("masks", masks_.ptr());
    const auto net_params = align::named_params(*net_);
    const auto mask_params = align::named_params(*masks_, "masks.");
    opt_net_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], net_params);
    opt_masks_ = &ctx.add_optimizer(
        "masks", adam(cfg.get<double>("algorithm.dmg_mask_lr"), cfg.get<double>("algorithm.dmg_mask_weight_decay")),
        mask_params, /*scheduled=*/false, "algorithm.dmg_mask_lr");
    red_net_ = &ctx.add_reducer("model", align::tensors_of(net_params));
    red_masks_ = &ctx.add_reducer("masks", align::tensors_of(mask_params));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = concat_domains(batch, ctx, "dmg");
    net_->train();
    const int64_t n = data.images.size(0);
    // Each sample's uniform draws for every point, from its own generator
    // (domain, global slot): the same on any number of ranks.
    int64_t total = 0;
    for (const auto& p : masks_->points()) total += masks_->logits(p).size(1);
    auto uniform = torch::empty({n, total});
    const auto dom = data.domains.cpu();
    for (int64_t r = 0; r < n; ++r) {
      auto gen = ctx.sample_generator("dmg/domain" + std::to_string(dom[r].item<int64_t>()),
                                      data.slots[r].item<int64_t>());
      uniform[r].copy_(at::rand({total}, gen));
    }
    uniform = uniform.to(ctx.device());
    std::vector<torch::Tensor> draws;
    int64_t off = 0;
    for (const auto& p : masks_->points()) {
      const int64_t c = masks_->logits(p).size(1);
      draws.push_back(uniform.slice(1, off, off + c));
      off += c;
    }
    torch::Tensor logits;
    {
      models::SampleKeyScope keys(data.keys);
      logits = net_->forward_hooked(data.images, [&](const std::string& point, const torch::Tensor& x) {
        const auto& names = masks_->points();
        const auto it = std::find(names.begin(), names.end(), point);
        if (it == names.end()) return x;
        const auto probs = torch::sigmoid(masks_->logits(point)).index_select(0, data.domains);
        return apply_mask(x, straight_through_mask(probs, draws[static_cast<size_t>(it - names.begin())]));
      });
    }
    const auto ce = F::cross_entropy(logits, data.labels);
    torch::Tensor overlap = torch::zeros({}, ce.options()), sparsity = torch::zeros({}, ce.options());
    for (const auto& p : masks_->points()) {
      // [dmg] trainer :182-183: penalties summed over the masked layers.
      const auto probs = torch::sigmoid(masks_->logits(p));
      overlap = overlap + soft_overlap(probs);
      sparsity = sparsity + probs.sum();
    }
    const auto loss = ce + overlap_lambda_ * overlap + sparsity_lambda_ * sparsity;
    Scalars s{{"loss", loss.item<double>()}, {"ce", ce.item<double>()}, {"overlap", overlap.item<double>()}};
    opt_net_->zero_grad();
    opt_masks_->zero_grad();
    if (!ctx.check_loss("loss", loss)) return s;
    red_net_->arm();
    red_masks_->arm();
    loss.backward();
    red_net_->finalize();
    red_masks_->finalize();
    opt_net_->clip_gradients();
    opt_masks_->clip_gradients();
    opt_net_->step();
    opt_masks_->step();
    return s;
  }

  void set_eval_domain(const std::string& domain) override {
    const auto it = std::find(domains_.begin(), domains_.end(), domain);
    eval_domain_ = it == domains_.end() ? -1 : static_cast<int64_t>(it - domains_.begin());
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    const int64_t n = images.size(0);
    auto masked = [&](int64_t d, bool greedy) {
      return net_->forward_hooked(images, [&](const std::string& point, const torch::Tensor& x) {
        const auto& names = masks_->points();
        if (std::find(names.begin(), names.end(), point) == names.end()) return x;
        const auto probs = torch::sigmoid(masks_->logits(point))[d].unsqueeze(0).expand({n, -1});
        return apply_mask(x, greedy ? greedy_mask(probs) : probs);
      });
    };
    if (eval_domain_ >= 0) return masked(eval_domain_, /*greedy=*/true);
    torch::Tensor sum;
    for (int64_t d = 0; d < static_cast<int64_t>(domains_.size()); ++d) {
      auto y = masked(d, /*greedy=*/false);
      sum = sum.defined() ? sum + y : y;
    }
    return sum / static_cast<double>(domains_.size());
  }

 private:
  std::vector<std::string> domains_;
  int64_t eval_domain_ = -1;
  double overlap_lambda_ = 0.1, sparsity_lambda_ = 0;
  models::Classifier net_;
  DomainMasks masks_{nullptr};
  worker::OptimizerBundle* opt_net_ = nullptr;
  worker::OptimizerBundle* opt_masks_ = nullptr;
  comm::GradReducer* red_net_ = nullptr;
  comm::GradReducer* red_masks_ = nullptr;
};

const AlgorithmRegistrar kRegister("dmg", [] { return std::make_unique<Dmg>(); });

}  // namespace
}  // namespace uda::algos::dynamic
