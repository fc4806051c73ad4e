// CSG for semantic segmentation (`csg_seg`): the official GTA5 -> Cityscapes
// recipe of github.com/NVlabs/CSG (commit 175ecdf; train_seg.py [tseg],
// train_seg.sh, dataloader_seg.py [dls], model/csg_builder.py [csg]).
//
// The query network is the DeepLabV2 segmentor (model.*: ResNet-50/101 trunk,
// ASPP heads layer5/layer6) trained with the pixel cross-entropy; the key
// network is a frozen copy of its initial (pretrained) weights, or
// algorithm.csg_key_backbone. The contrastive branch is the classification
// one (csg_model.h) with every stage map cut into c x c patches, each patch
// a key and a query row ([csg] chunk_feature, train_seg.sh --chunks 8).
// Views: the query is the loader's image, the key its colour-jittered copy
// ([dls] :23-37: ColorJitter(0.4, 0.4, 0.4, 0.4) on the key image only,
// the same crop) — here the kornia-0.5 jitter of DACS
// (algos/seg/dacs_transforms.h), drawn per sample (deviation: torchvision's
// brightness multiplies, kornia's adds).
#include "algos/algorithm.h"
#include "algos/contrastive/csg_model.h"
#include "algos/seg/dacs_transforms.h"
#include "algos/seg/seg_loss.h"
#include "core/config.h"
#include "core/error.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <optional>

namespace uda::algos::contrastive {

namespace {

class CsgSeg : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    options_ = csg_options(cfg, /*segmentation=*/true);
    const auto spec = models::model_spec(cfg);
    if (spec.head != "deeplabv2")
      throw UserError("csg_seg contrasts ResNet stage maps and needs a DeepLabV2 segmentor, not head '" + spec.head +
                          "' on '" + spec.backbone + "'",
                      "model.head.type", "set model.head.type=deeplabv2 with model.backbone.type=resnet50|resnet101");
    net_ = models::build_segmentor(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    // DeepLabV2's trunk: Bottleneck layer1..layer4 of 256..2048 channels.
    const auto channels = stage_channels_of({256, 512, 1024, 2048}, options_, spec.backbone);
    key_ = models::build_segmentor(spec);
    copy_state(*net_, *key_);
    if (!options_.key_backbone.empty())
      load_key_backbone(*key_, options_.key_backbone, 3, {"fc.", "layer5.", "layer6."});
    freeze(*key_);
    key_->to(ctx.device());
    key_->eval();
    ctx.track_module("csg_key", key_);
    branch_ = std::make_unique<ContrastiveBranch>(options_, channels, ctx);
    auto params = named_parameters(*net_, "");
    if (apply_train_heads(options_, *branch_->query_heads()))
      for (auto& p : named_parameters(*branch_->query_heads(), "csg_heads.")) params.push_back(p);
    std::vector<at::Tensor> trainable;
    worker::NamedParameters named;
    for (auto& kv : params)
      if (kv.second.requires_grad()) named.push_back(kv), trainable.push_back(kv.second);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], named);
    reducer_ = &ctx.add_reducer("model", trainable);
    norm_ = pixel_normalization(cfg, "source");
    aux_weight_ = cfg.get<double>("algorithm.aux_loss_weight");
    align_ = net_->options().align_corners;
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto& src = batch.source;
    const auto im_q = src.images;
    const auto im_k = jitter(src, ctx);
    net_->train();
    key_->eval();
    opt_->zero_grad();
    branch_->momentum_update();  // [csg :153-154]
    models::SampleKeyScope keys(ctx.sample_keys("csg_seg.source", src.indices));
    auto out = net_->forward(im_q);
    std::vector<at::Tensor> maps_qk, maps_k;
    {
      torch::NoGradGuard no_grad;
      if (options_.apool) maps_qk = net_->extract_features(im_k);  // [csg :155-157]
      maps_k = key_->extract_features(im_k);                       // [csg :158]
    }
    // [tseg :27, :226] CrossEntropyLoss(ignore_index=255), the mean over the
    // valid pixels — of the global batch (valid counts differ per rank).
    auto cross_entropy = [&](const at::Tensor& logits) {
      auto ce = seg_cross_entropy_sum(logits, src.labels, align_);
      return ctx.global_mean(ce.sum, ce.count);
    };
    auto seg_loss = cross_entropy(out.logits);
    Scalars s{{"loss_seg", seg_loss.item<double>()}};
    auto loss = seg_loss;
    if (out.aux.defined()) {
      auto aux = cross_entropy(out.aux);
      loss = loss + aux_weight_ * aux;
      s.emplace_back("loss_seg_aux", aux.item<double>());
    }
    const auto domains = torch::zeros({im_q.size(0)}, torch::kLong);
    const auto nce = branch_->losses(out.features, maps_qk, maps_k, domains, src.indices);
    loss = loss + options_.weight * nce.total;  // [tseg :236]
    for (size_t i = 0; i < nce.per_stage.size(); ++i)
      s.emplace_back("csg_layer" + std::to_string(options_.stages[i]), nce.per_stage[i].item<double>());
    if (ctx.check_loss("loss_seg", loss)) {
      worker::Update(*opt_, *reducer_).backward_and_step(loss);
    }
    branch_->enqueue_step_keys(ctx);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->predict(images);
  }

 private:
  // [dls] :23-37 the key view: ColorJitter(0.4, 0.4, 0.4, 0.4) of the image,
  // one draw per sample keyed by its global slot of the step.
  at::Tensor jitter(const DomainBatch& src, worker::TrainContext& ctx) const {
    torch::NoGradGuard no_grad;
    const auto opts = src.images.options();
    auto mean = torch::tensor({norm_.mean[0], norm_.mean[1], norm_.mean[2]}, opts).view({1, 3, 1, 1});
    auto stdv = torch::tensor({norm_.std[0], norm_.std[1], norm_.std[2]}, opts).view({1, 3, 1, 1});
    auto x01 = ((src.images * stdv + mean) / 255.0).clamp(0, 1);
    auto slots = src.indices.to(torch::kCPU);
    std::vector<at::Tensor> rows;
    for (int64_t i = 0; i < x01.size(0); ++i) {
      auto gen = ctx.sample_generator("csg_seg/key_jitter", slots[i].item<int64_t>());
      rows.push_back(apply_color_jitter(x01.narrow(0, i, 1), sample_color_jitter(0.4, gen)));
    }
    return (torch::cat(rows) * 255.0 - mean) / stdv;
  }

  CsgOptions options_;
  models::Segmentor net_, key_;
  std::unique_ptr<ContrastiveBranch> branch_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
  PixelNormalization norm_;
  double aux_weight_ = 0.1;
  bool align_ = false;
};

const AlgorithmRegistrar kRegister("csg_seg", [] { return std::make_unique<CsgSeg>(); });

}  // namespace
}  // namespace uda::algos::contrastive
