// The kernel-MMD family for UDA (a labelled source, an unlabelled target).
//
// dan: DAN (Long et al., ICML 2015) as TLlib runs it
// (tllib/alignment/dan.py MultipleKernelMaximumMeanDiscrepancy,
// tllib/modules/kernels.py GaussianKernel, examples/.../dan.py): loss =
// CE(source) + trade_off * MK-MMD(source features, target features), the
// features being the classifier network's (models::ClassifierImpl::
// features), Gaussian kernels with sigma^2 = alpha * (mean squared distance
// of the batch), alpha in 2^{-3..1}, summed. The QUADRATIC-time estimate
// (TLlib's linear=False; unbiased within-domain terms), not TLlib's default
// linear-time one: the linear estimate pairs row i with row i+1 of the
// batch, which would tie the loss to how the global batch is laid out over
// ranks; the quadratic one is a function of the set of rows. Reported with
// TLlib's constant 2/(n-1) (no gradient).
//
// cwmmd: class-weighted MMD (Yan et al., CVPR 2017, "Mind the class weight
// bias: weighted maximum mean discrepancy for unsupervised domain
// adaptation") with the class-specific term of the authors' extension
// (CWMMD, github.com/yhldhit/CWDAN). The weighted MMD replaces the source
// mean embedding (1/M) sum_i phi(x_i^s) by (1/M) sum_i alpha_{y_i} phi(x_i^s),
// alpha_c = w_c^t / w_c^s, the ratio of the target and source class priors.
//  - w^s, the source priors: the source dataset's stored class statistics
//    (class_stats.json through TrainContext::data_info(): no pass over the
//    data; uniform over the present classes under data.source.sampler =
//    class_balanced). The authors hard-code the same counts
//    (WMMD-Caffe src/caffe/layers/mmd_layer.cu:116-117, commit 517239e).
//  - w^t, the target priors: the paper's classification EM, alternating
//    pseudo-labels (argmax of the current classifier on the target), the
//    auxiliary weights (w^t = the pseudo-labels' class frequencies) and the
//    network. As the authors' layer, over a memory of target samples: the
//    pseudo-labels of the confident target rows (entropy below
//    algorithm.cwmmd_max_entropy; off by default, as their configs' 10.0
//    for 10 classes) are counted, and once algorithm.cwmmd_prior_samples
//    (1000, mmd_layer.cu:443, :524) have been counted, w^t becomes their
//    frequencies (hard counts, mmd_layer.cu:428, :457) and the count
//    restarts. Until the first estimate alpha = 1 (plain MMD). The counts
//    and w^t are checkpointed state. Deviation: the Caffe layer alternates
//    300 network iterations with a counting phase in which the MMD gradient
//    is zero (mmd_layer.cu:196, :382-384); uda counts during every step.
//  - the weighted MMD: mk_mmd (algos/align/losses.h) with source row
//    weights alpha_{y_i}, target weights 1 (mmd_layer.cu:133, :137, :259,
//    :297: ss pairs a_i a_j, st pairs a_i, tt pairs 1), DAN's kernels,
//    quadratic estimate (the Caffe layer samples pairs).
//  - the class-conditional MMD: per class present with at least 2 source
//    rows (labels) and 2 confident target rows (pseudo-labels) of the global
//    batch (CWDAN specific_mmd_layer.cu:126-133), MK-MMD with bandwidths
//    from that class's rows (:173), averaged over those classes.
//  loss = CE(source) + trade_off * (weighted MMD + cwmmd_class_weight *
//  class-conditional MMD). Every estimate is over the GLOBAL batch
//  (comm/differentiable.h), the pseudo-label counts too.
// UserError (exit 2) when the source dataset's statistics count no
// labelled sample, or the sampler's class priors are unknown (rcs).
#include "algos/align/common.h"
#include "algos/align/losses.h"
#include "core/config.h"
#include "core/schema.h"
#include "models/builder.h"
#include "models/classifiers/classifier.h"
#include "models/layers/sample_randomness.h"

#include <torch/torch.h>

#include <numeric>

namespace uda::algos::align {

namespace {
using config::Type;
namespace F = torch::nn::functional;

// algorithm.trade_off is declared with dann_grl's keys (algos/align/dann.cpp).
const config::KeyRegistrar kKeys({
    {"algorithm.cwmmd_class_weight", Type::Number, 1.0,
     "cwmmd: weight of the class-conditional MMD next to the weighted MMD (CWDAN's train_val.prototxt: 0.03 vs "
     "0.01 on fc7)."},
    {"algorithm.cwmmd_prior_samples", Type::Int, 1000,
     "cwmmd: confident target pseudo-labels counted before the target class priors are re-estimated (WMMD-Caffe "
     "mmd_layer.cu:443)."},
    {"algorithm.cwmmd_max_entropy", Type::Number, 0.0,
     "cwmmd: only target rows whose prediction entropy is below this count as pseudo-labelled (mmd_layer.cu:426); "
     "0 = every row (the authors' configs: 10, above log(10))."},
});

class Dan : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    require_target(ctx, "dan");
    trade_off_ = ctx.config().get<double>("algorithm.trade_off");
    net_ = models::build_classifier(ctx.config());
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    const auto params = named_params(*net_);
    opt_ = &ctx.add_optimizer("model", ctx.config().json()["optimizer"], params);
    reducer_ = &ctx.add_reducer("model", tensors_of(params));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = source_and_target(batch, ctx, "dan");
    net_->train();
    opt_->zero_grad();
    torch::Tensor z;
    {
      models::SampleKeyScope keys(data.keys);
      z = net_->features(data.images);
    }
    auto zs = z.narrow(0, 0, data.ns), zt = z.narrow(0, data.ns, data.nt);
    auto class_loss = F::cross_entropy(net_->classify(zs), data.source_labels);
    auto zsg = gather_rows(ctx, zs), ztg = gather_rows(ctx, zt);
    require_global_rows(zsg.size(0), "dan", "source");
    require_global_rows(ztg.size(0), "dan", "target");
    auto mmd = mk_mmd(zsg, ztg, dan_alphas(), {}, /*tllib_offset=*/true);
    auto loss = class_loss + trade_off_ * mmd;
    Scalars s{{"loss", class_loss.item<double>()}, {"mk_mmd", mmd.item<double>()}};
    if (!ctx.check_loss("loss", loss)) return s;
    worker::Update(*opt_, *reducer_).backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  double trade_off_ = 1;
  models::Classifier net_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
};

// The source class priors w^s from the stored statistics (see the header).
std::vector<double> source_priors(const worker::TrainContext& ctx) {
  const auto& src = ctx.data_info().source;
  const std::string where = src.path + " (data.source.path)";
  if (src.task != "classification")
    throw UserError("cwmmd needs the source's class priors, and " +
                        (src.task.empty() ? std::string("no dataset description was given")
                                          : "a " + src.task + " dataset's statistics count pixels, not samples"),
                    src.path.empty() ? "data.source.path" : where,
                    "use a classification dataset converted by uda convert (its class_stats.json counts samples)");
  const int64_t total = std::accumulate(src.class_counts.begin(), src.class_counts.end(), int64_t{0});
  if (src.class_counts.empty() || total <= 0)
    throw UserError("cwmmd needs the source's class statistics, and class_stats.json counts no labelled sample",
                    where,
                    "re-convert the source with uda convert (class_stats.json then holds every sample's class), "
                    "or use dan");
  std::vector<double> w(src.class_counts.size(), 0.0);
  if (src.sampler == "rcs")
    throw UserError("cwmmd weighs classes by the source batches' class priors, which rare class sampling changes "
                    "to an unknown distribution",
                    "data.source.sampler", "use shuffle, uniform or class_balanced");
  if (src.sampler == "class_balanced") {
    int64_t present = 0;
    for (auto c : src.class_counts) present += c > 0;
    for (size_t c = 0; c < w.size(); ++c) w[c] = src.class_counts[c] > 0 ? 1.0 / static_cast<double>(present) : 0.0;
    return w;
  }
  for (size_t c = 0; c < w.size(); ++c) w[c] = static_cast<double>(src.class_counts[c]) / static_cast<double>(total);
  return w;
}

class Cwmmd : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override {
    const auto& cfg = ctx.config();
    require_target(ctx, "cwmmd");
    const auto ws = source_priors(ctx);
    trade_off_ = cfg.get<double>("algorithm.trade_off");
    class_weight_ = cfg.get<double>("algorithm.cwmmd_class_weight");
    prior_samples_ = cfg.get<int64_t>("algorithm.cwmmd_prior_samples");
    max_entropy_ = cfg.get<double>("algorithm.cwmmd_max_entropy");
    if (prior_samples_ < 1)
      throw UserError("algorithm.cwmmd_prior_samples must be at least 1", "algorithm.cwmmd_prior_samples",
                      "the authors count 1000 target samples");
    net_ = models::build_classifier(cfg);
    net_->to(ctx.device());
    ctx.track_module("model", net_);
    if (static_cast<int64_t>(ws.size()) != net_->num_classes())
      throw UserError("the source's class statistics have " + std::to_string(ws.size()) + " classes, model " +
                          std::to_string(net_->num_classes()),
                      "model.num_classes", "set it to the dataset's classes");
    const auto dev = torch::TensorOptions().dtype(torch::kDouble).device(ctx.device());
    source_prior_ = torch::tensor(ws, torch::kDouble).to(ctx.device());
    // alpha = 1 until the first estimate: w^t starts at w^s.
    target_prior_ = source_prior_.clone();
    counts_ = torch::zeros({net_->num_classes()}, dev);
    ctx.track_tensor("cwmmd.target_prior", target_prior_, worker::Replication::Replicated);
    ctx.track_tensor("cwmmd.pseudo_label_counts", counts_, worker::Replication::Replicated);
    const auto params = named_params(*net_);
    opt_ = &ctx.add_optimizer("model", cfg.json()["optimizer"], params);
    reducer_ = &ctx.add_reducer("model", tensors_of(params));
  }

  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override {
    const auto data = source_and_target(batch, ctx, "cwmmd");
    const int64_t C = net_->num_classes();
    net_->train();
    opt_->zero_grad();
    torch::Tensor z;
    {
      models::SampleKeyScope keys(data.keys);
      z = net_->features(data.images);
    }
    auto logits = net_->classify(z);
    auto zs = z.narrow(0, 0, data.ns), zt = z.narrow(0, data.ns, data.nt);
    auto class_loss = F::cross_entropy(logits.narrow(0, 0, data.ns), data.source_labels);
    // E- and C-step: the current classifier's pseudo-labels of the target rows.
    torch::Tensor pseudo, confident;
    {
      torch::NoGradGuard no_grad;
      auto p = torch::softmax(logits.narrow(0, data.ns, data.nt).detach().to(torch::kDouble), 1);
      pseudo = p.argmax(1);
      auto entropy = -(p * p.clamp_min(1e-300).log()).sum(1);
      confident = max_entropy_ > 0 ? (entropy < max_entropy_) : torch::ones_like(pseudo, torch::kBool);
    }
    auto zsg = gather_rows(ctx, zs), ztg = gather_rows(ctx, zt);
    require_global_rows(zsg.size(0), "cwmmd", "source");
    require_global_rows(ztg.size(0), "cwmmd", "target");
    auto ysg = gather_rows(ctx, data.source_labels);
    auto pseudo_g = gather_rows(ctx, pseudo);
    auto confident_g = gather_rows(ctx, confident.to(torch::kLong)).to(torch::kBool);
    // M-step of the auxiliary weights: count the confident pseudo-labels;
    // a full memory re-estimates the target priors.
    {
      torch::NoGradGuard no_grad;
      auto counted = pseudo_g.masked_select(confident_g);
      counts_.add_(torch::bincount(counted.to(torch::kCPU), {}, C).to(counts_.options()));
      const double total = counts_.sum().item<double>();
      if (total >= static_cast<double>(prior_samples_)) {
        target_prior_.copy_(counts_ / total);
        counts_.zero_();
      }
    }
    auto alpha = torch::where(source_prior_ > 0, target_prior_ / source_prior_.clamp_min(1e-300),
                              torch::zeros_like(source_prior_));
    auto weights = alpha.index_select(0, ysg.to(alpha.device())).to(zsg.dtype());
    auto wmmd = mk_mmd(zsg, ztg, dan_alphas(), weights);
    auto sel = confident_g.nonzero().flatten().to(ztg.device());
    int64_t classes = 0;
    auto cmmd = class_conditional_mmd(zsg, ysg, ztg.index_select(0, sel),
                                      pseudo_g.index_select(0, sel.to(pseudo_g.device())), C, dan_alphas(), &classes);
    auto loss = class_loss + trade_off_ * (wmmd + class_weight_ * cmmd);
    Scalars s{{"loss", class_loss.item<double>()},
              {"weighted_mmd", wmmd.item<double>()},
              {"class_mmd", cmmd.item<double>()},
              {"class_mmd_classes", static_cast<double>(classes)},
              {"prior_tv", 0.5 * (target_prior_ - source_prior_).abs().sum().item<double>()}};
    if (!ctx.check_loss("loss", loss)) return s;
    worker::Update(*opt_, *reducer_).backward_and_step(loss);
    return s;
  }

  at::Tensor predict(const at::Tensor& images) override {
    net_->eval();
    return net_->forward(images);
  }

 private:
  double trade_off_ = 1, class_weight_ = 1, max_entropy_ = 0;
  int64_t prior_samples_ = 1000;
  models::Classifier net_;
  at::Tensor source_prior_, target_prior_, counts_;
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
};

const AlgorithmRegistrar kDan("dan", [] { return std::make_unique<Dan>(); });
const AlgorithmRegistrar kCwmmd("cwmmd", [] { return std::make_unique<Cwmmd>(); });

}  // namespace
}  // namespace uda::algos::align
