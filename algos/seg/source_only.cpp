// source_only: supervised training on the labelled source domain (the
// baseline every adaptation method is compared with; DomainBed's ERM).
#include "algos/algorithm.h"
#include "algos/seg/seg_loss.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/layers/sample_randomness.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <optional>

namespace uda::algos {

namespace {
const config::KeyRegistrar kKeys({
    {"algorithm.aux_loss_weight", config::Type::Number, 0.1,
     "Weight of the auxiliary (layer5) segmentation loss of multi-level heads (ADVENT: 0.1)."},
    {"algorithm.loss_mean", config::Type::String, "all_pixels",
     "source_only: 'all_pixels' averages the cross-entropy over every pixel, ignored ones counting 0 (mmseg 0.16 "
     "CrossEntropyLoss: the DAFormer/DACS source-only baseline); 'valid_pixels' over non-ignored pixels only "
     "(ADVENT's CrossEntropy2d, PyTorch's ignore_index mean)."},
});

class SourceOnly : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    net_ = models::build_segmentor(ctx.config());
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    update_.emplace(ctx.add_update("model", *net_, ctx.config().json()["optimizer"]));
    aux_weight_ = ctx.config().get<double>("algorithm.aux_loss_weight");
    align_ = net_->options().align_corners;
    const auto mean = ctx.config().get<std::string>("algorithm.loss_mean");
    if (mean != "all_pixels" && mean != "valid_pixels")
      throw UserError("unknown algorithm.loss_mean '" + mean + "'", "algorithm.loss_mean",
                      "use \"all_pixels\" (mmseg, DAFormer) or \"valid_pixels\" (ADVENT)");
    all_pixels_ = mean == "all_pixels";
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    net_->train();
    update_->zero_grad();
    models::SampleKeyScope keys(ctx.sample_keys("source_only.source", batch.source.indices));
    auto out = net_->forward(batch.source.images);
    auto cross_entropy = [&](const at::Tensor& logits) {
      if (all_pixels_) {  // a unit pixel weight makes seg_cross_entropy average over all pixels
        auto unit = torch::ones(batch.source.labels.sizes(), batch.source.images.options());
        return seg_cross_entropy(logits, batch.source.labels, align_, unit);
      }
      // The mean over the valid pixels of the global batch.
      auto ce = seg_cross_entropy_sum(logits, batch.source.labels, align_);
      return ctx.global_mean(ce.sum, ce.count);
    };
    auto loss_main = cross_entropy(out.logits);
    auto loss = loss_main;
    Scalars s{{"loss_seg", loss_main.item<double>()}};
    if (out.aux.defined()) {
      auto loss_aux = cross_entropy(out.aux);
      loss = loss + aux_weight_ * loss_aux;
      s.emplace_back("loss_seg_aux", loss_aux.item<double>());
    }
    if (!ctx.check_loss("loss_seg", loss)) return s;
    update_->backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->predict(images);
  }

 private:
  models::Segmentor net_;
  std::optional<worker::Update> update_;
  bool all_pixels_ = true;
  double aux_weight_ = 0.1;
  bool align_ = false;
};

const AlgorithmRegistrar kRegister("source_only", [] { return std::make_unique<SourceOnly>(); });

}  // namespace
}  // namespace uda::algos
