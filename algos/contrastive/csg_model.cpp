// CSG's contrastive branch: heads, EMA, queues, losses; see csg_model.h.
// Sources: NVlabs/CSG 175ecdf model/csg_builder.py [csg], train.py [train],
// train.sh / train_seg.sh (the recipes' flags).
#include "algos/contrastive/csg_model.h"

#include "comm/differentiable.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/classifiers/resnet_classifier.h"
#include "models/weights.h"
#include "worker/train_context.h"

#include <torch/torch.h>

#include <sstream>

namespace uda::algos::contrastive {

namespace {

namespace F = torch::nn::functional;
using config::Type;
using nlohmann::json;

const config::KeyRegistrar kKeys({
    {"algorithm.csg_weight", Type::Number, 0.1,
     "csg: weight w of Σ_stages InfoNCE (train.sh --csg 0.1 classification; train_seg.sh --csg 75 segmentation)."},
    {"algorithm.csg_stages", Type::Array, json::array({3, 4}),
     "csg: ResNet stages (layer s) whose maps are contrasted (train.sh --csg-stages 3.4)."},
    {"algorithm.csg_chunks", Type::Int, 1,
     "csg: each stage map is cut into c x c patches, each a key (csg_builder.py chunk_feature; segmentation 8)."},
    {"algorithm.csg_queue_size", Type::Int, 65536, "csg: K, keys per stage queue (train.py --csg-k)."},
    {"algorithm.csg_dim", Type::Int, 128, "csg: output width of the projection heads (csg_builder.py dim)."},
    {"algorithm.csg_temperature", Type::Number, 0.07, "csg: InfoNCE temperature T (csg_builder.py T)."},
    {"algorithm.csg_momentum", Type::Number, 0.999, "csg: EMA momentum m of the key heads (csg_builder.py m)."},
    {"algorithm.csg_apool", Type::Bool, true, "csg: A-Pool (attention pooling) instead of average pooling (--apool)."},
    {"algorithm.csg_train_heads", Type::Bool, true,
     "csg: train the query projection heads (train.py puts fc_csg in the optimizer); false = the official "
     "segmentation code's quirk (train_seg.py :125-133 leaves fc_csg out: the heads stay at their initialisation)."},
    {"algorithm.csg_queue_wrap", Type::String, "official",
     "csg: official (csg_builder.py:119 re-writes the step's FIRST keys at the queue's start when it wraps) or fifo.",
     false, {"official", "fifo"}},
    {"algorithm.csg_key_backbone", Type::String, "",
     "csg: .pth of the frozen key featurizer (torchvision ImageNet ResNet names, or `uda export` of a classifier); "
     "\"\" = the query network's initial weights (model.pretrained)."},
    {"algorithm.csg_randaugment_n", Type::Int, 1, "csg: RandAugment operations per view (train.py RandAugment(1, 6))."},
    {"algorithm.csg_randaugment_m", Type::Int, 6, "csg: RandAugment magnitude in [0, 30]."},
});

// Composite order of a key row: (patch, training domain, global slot).
constexpr int kSlotBits = 40, kDomainBits = 8;

}  // namespace

CsgOptions csg_options(const config::Config& cfg, bool segmentation) {
  CsgOptions o;
  o.weight = cfg.get<double>("algorithm.csg_weight");
  const auto& stages = cfg.at("algorithm.csg_stages");
  if (!stages.is_array() || stages.empty())
    throw UserError("algorithm.csg_stages must be a non-empty array of stage numbers", cfg.origin("algorithm.csg_stages"),
                    "e.g. [3, 4] (ResNet layer3 and layer4)");
  o.stages.clear();
  for (const auto& s : stages) {
    if (!s.is_number_integer())
      throw UserError("algorithm.csg_stages holds " + s.dump() + ", not a stage number",
                      cfg.origin("algorithm.csg_stages"), "give ResNet stage numbers 1..4, e.g. [3, 4]");
    o.stages.push_back(s.get<int64_t>());
  }
  o.chunks = cfg.get<int64_t>("algorithm.csg_chunks");
  if (o.chunks < 1)
    throw UserError("algorithm.csg_chunks is " + std::to_string(o.chunks), cfg.origin("algorithm.csg_chunks"),
                    "use 1 (one key per map) or more (c x c patches; the segmentation recipe uses 8)");
  o.queue_size = cfg.get<int64_t>("algorithm.csg_queue_size");
  if (o.queue_size <= 0)
    throw UserError("algorithm.csg_queue_size is " + std::to_string(o.queue_size) + ", and a queue needs room",
                    cfg.origin("algorithm.csg_queue_size"),
                    "set a positive size, at least the keys of one global batch (official: 65536)");
  o.dim = cfg.get<int64_t>("algorithm.csg_dim");
  if (o.dim <= 0)
    throw UserError("algorithm.csg_dim must be positive", cfg.origin("algorithm.csg_dim"), "official: 128");
  o.temperature = cfg.get<double>("algorithm.csg_temperature");
  if (!(o.temperature > 0))
    throw UserError("algorithm.csg_temperature must be positive", cfg.origin("algorithm.csg_temperature"),
                    "official: 0.07");
  o.momentum = cfg.get<double>("algorithm.csg_momentum");
  if (!(o.momentum >= 0 && o.momentum <= 1))
    throw UserError("algorithm.csg_momentum must be in [0, 1]", cfg.origin("algorithm.csg_momentum"), "official: 0.999");
  o.apool = cfg.get<bool>("algorithm.csg_apool");
  o.train_heads = cfg.get<bool>("algorithm.csg_train_heads");
  o.wrap = queue_wrap_from_name(cfg.get<std::string>("algorithm.csg_queue_wrap"));
  o.key_backbone = cfg.get<std::string>("algorithm.csg_key_backbone");
  o.randaug_n = static_cast<int>(cfg.get<int64_t>("algorithm.csg_randaugment_n"));
  o.randaug_m = static_cast<int>(cfg.get<int64_t>("algorithm.csg_randaugment_m"));
  if (!segmentation && (o.randaug_n < 0 || o.randaug_m < 0 || o.randaug_m > 30))
    throw UserError("algorithm.csg_randaugment_n/m out of range", cfg.origin("algorithm.csg_randaugment_m"),
                    "n >= 0 operations, magnitude m in [0, 30] (official: 1 and 6)");
  return o;
}

std::vector<int64_t> stage_channels_of(const std::vector<int64_t>& available, const CsgOptions& o,
                                       const std::string& backbone) {
  std::vector<int64_t> out;
  for (const auto s : o.stages) {
    if (s < 1 || s > static_cast<int64_t>(available.size())) {
      const std::string have = available.empty()
                                   ? "it exposes no stage maps (mnist_cnn's are GroupNorm outputs, signed, which "
                                     "A-Pool cannot weight)"
                                   : "it has stages 1.." + std::to_string(available.size());
      throw UserError("algorithm.csg_stages selects stage " + std::to_string(s) + " but backbone '" + backbone +
                          "' lacks it: " + have,
                      "algorithm.csg_stages",
                      available.empty() ? "use a ResNet backbone (model.backbone.type=resnet18|34|50|101)"
                                        : "choose stages among 1.." + std::to_string(available.size()) +
                                              " (official: [3, 4])");
    }
    out.push_back(available[static_cast<size_t>(s - 1)]);
  }
  return out;
}

PixelNormalization pixel_normalization(const config::Config& cfg, const std::string& stream) {
  PixelNormalization n;
  const auto mean = cfg.at("data." + stream + ".mean"), std = cfg.at("data." + stream + ".std");
  for (size_t i = 0; i < 3 && i < mean.size(); ++i) n.mean[i] = mean[i].get<double>();
  for (size_t i = 0; i < 3 && i < std.size(); ++i) n.std[i] = std[i].get<double>();
  return n;
}

worker::NamedParameters named_parameters(torch::nn::Module& m, const std::string& prefix) {
  worker::NamedParameters out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(prefix + p.key(), p.value());
  return out;
}

void copy_state(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto src = from.named_parameters(true);
  for (auto& p : to.named_parameters(true)) p.value().copy_(src[p.key()]);
  auto bsrc = from.named_buffers(true);
  for (auto& b : to.named_buffers(true)) b.value().copy_(bsrc[b.key()]);
}

void freeze(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
}

void load_key_backbone(torch::nn::Module& key, const std::string& path, int64_t in_channels,
                       const std::vector<std::string>& ignore) {
  auto sd = models::read_pth(path);
  models::adapt_input_channels(sd, "conv1.weight", in_channels);  // as load_pretrained (DomainBed)
  models::LoadOptions o;
  o.strict = false;
  o.source = path;
  o.ignore = ignore;
  const auto report = models::load_state_dict(key, sd, o);
  if (report.missing.empty() && report.unexpected.empty()) return;
  const bool missing = !report.missing.empty();
  const auto& keys = missing ? report.missing : report.unexpected;
  std::ostringstream what;
  what << "key backbone file " << path << (missing ? " lacks " : " has extra ") << keys.size() << " key(s) of the "
       << (missing ? "network" : "file") << ", first '" << keys.front() << "'";
  throw UserError(what.str(), "algorithm.csg_key_backbone",
                  "give a state dict of the same featurizer as model.backbone.type (torchvision ResNet key names, "
                  "e.g. `uda export` of a classifier trained with that backbone)");
}

ContrastiveBranch::ContrastiveBranch(const CsgOptions& o, const std::vector<int64_t>& channels,
                                     worker::TrainContext& ctx)
    : o_(o) {
  namespace nn = torch::nn;
  query_heads_ = std::make_shared<nn::Module>();
  key_heads_ = std::make_shared<nn::Module>();
  for (size_t i = 0; i < channels.size(); ++i) {
    const int64_t c = channels[i];
    const std::string name = "stage" + std::to_string(o.stages[i]);  // [csg :68-71] fc_csg["stage%d"]
    auto make = [&] {
      nn::Sequential s;
      s->push_back(nn::Linear(c, c));
      s->push_back(nn::ReLU());
      s->push_back(nn::Linear(c, o.dim));
      return s;
    };
    auto q = make();
    auto k = make();
    q_stage_.push_back(query_heads_->register_module(name, q));
    k_stage_.push_back(key_heads_->register_module(name, k));
    // [csg :88-90] a queue of random unit keys (columns), pointer 0; drawn
    // from a generator of the run's seed, the same on every rank.
    auto g = at::make_generator<at::CPUGeneratorImpl>(worker::mix_seed(ctx.seed(), "csg/queue", o.stages[i]));
    auto queue = F::normalize(torch::randn({o.dim, o.queue_size}, g, torch::TensorOptions()),
                              F::NormalizeFuncOptions().dim(0));
    queues_.push_back(queue.to(ctx.device()));
    pointers_.push_back(torch::zeros({1}, torch::dtype(torch::kLong).device(ctx.device())));
  }
  query_heads_->to(ctx.device());
  key_heads_->to(ctx.device());
  copy_state(*query_heads_, *key_heads_);  // [csg :72-73]
  freeze(*key_heads_);                     // [csg :75-76]
  ctx.track_module("csg_heads", query_heads_);
  ctx.track_module("csg_key_heads", key_heads_);
  for (size_t i = 0; i < queues_.size(); ++i) {
    const auto s = std::to_string(o.stages[i]);
    ctx.track_tensor("csg.queue" + s, queues_[i], worker::Replication::Replicated);
    ctx.track_tensor("csg.queue_ptr" + s, pointers_[i], worker::Replication::Replicated);
  }
  pending_keys_.resize(queues_.size());
  pending_order_.resize(queues_.size());
}

ContrastiveBranch::~ContrastiveBranch() = default;

std::shared_ptr<torch::nn::Module> ContrastiveBranch::query_heads() const { return query_heads_; }

void ContrastiveBranch::momentum_update() {
  torch::NoGradGuard no_grad;
  // [csg :103-104] param_k = param_k * m + param_q * (1 - m).
  auto q = query_heads_->parameters(true);
  auto k = key_heads_->parameters(true);
  for (size_t i = 0; i < q.size(); ++i) k[i].copy_(k[i] * o_.momentum + q[i] * (1.0 - o_.momentum));
}

BranchLosses ContrastiveBranch::losses(const std::vector<at::Tensor>& maps_q, const std::vector<at::Tensor>& maps_qk,
                                       const std::vector<at::Tensor>& maps_k, const at::Tensor& domains,
                                       const at::Tensor& slots) {
  BranchLosses out;
  const auto device = maps_q.at(static_cast<size_t>(o_.stages.front() - 1)).device();
  // The rows' global order: patch-major like chunk_feature, then domain, slot.
  auto d = domains.to(torch::kCPU).to(torch::kLong);
  auto sl = slots.to(torch::kCPU).to(torch::kLong);
  if (sl.numel() > 0 && (sl.max().item<int64_t>() >= (int64_t{1} << kSlotBits) || sl.min().item<int64_t>() < 0 ||
                         d.max().item<int64_t>() >= (int64_t{1} << kDomainBits)))
    throw std::logic_error("csg: global sample slot or domain out of the key order's range");
  const auto sample_order = d * (int64_t{1} << kSlotBits) + sl;
  // torch.chunk may cut fewer than c pieces (ceil-sized chunks): the patch
  // count is the rows of the chunked map over the samples.
  auto order_of = [&](int64_t rows) {
    const int64_t patches = rows / std::max<int64_t>(sample_order.numel(), 1);
    return (torch::arange(patches, torch::kLong).unsqueeze(1) * (int64_t{1} << (kSlotBits + kDomainBits)) +
            sample_order.unsqueeze(0))
        .flatten();
  };
  for (size_t i = 0; i < o_.stages.size(); ++i) {
    const auto s = static_cast<size_t>(o_.stages[i] - 1);
    auto& q_head = *q_stage_[i]->as<torch::nn::SequentialImpl>();
    auto& k_head = *k_stage_[i]->as<torch::nn::SequentialImpl>();
    // [csg :163-177] query: A-Pool of the map with its own attention.
    const auto qf = chunk_feature(maps_q[s], o_.chunks);
    auto q = q_head.forward(o_.apool ? attention_pool(qf, qf) : average_pool(qf));
    q = F::normalize(q, F::NormalizeFuncOptions().dim(1));
    at::Tensor k;
    {
      // [csg :180-194] key: the key network's map, pooled with the attention
      // of the query network's map of the key view.
      torch::NoGradGuard no_grad;
      const auto kf = chunk_feature(maps_k[s], o_.chunks);
      k = k_head.forward(o_.apool ? attention_pool(kf, chunk_feature(maps_qk[s], o_.chunks)) : average_pool(kf));
      k = F::normalize(k, F::NormalizeFuncOptions().dim(1));
    }
    const auto logits = info_nce_logits(q, k, queues_[i], o_.temperature);
    const auto target = torch::zeros({logits.size(0)}, torch::dtype(torch::kLong).device(device));  // [csg :206]
    auto nce = F::cross_entropy(logits, target);  // [train :250] mean over the query rows
    out.total = out.total.defined() ? out.total + nce : nce;
    out.per_stage.push_back(nce.detach());
    pending_keys_[i] = k;
    pending_order_[i] = order_of(k.size(0));
  }
  return out;
}

void ContrastiveBranch::enqueue_step_keys(worker::TrainContext& ctx) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (!pending_keys_[i].defined()) continue;
    // [csg :109 concat_all_gather] the keys need no gradient: a plain gather
    // of the rows, in rank order, then into the global batch's order.
    auto keys = comm::all_gather_rows(ctx.comm(), pending_keys_[i].contiguous());
    auto order = comm::all_gather_rows(ctx.comm(), pending_order_[i].to(keys.device()));
    keys = keys.index_select(0, std::get<1>(torch::sort(order)));
    if (keys.size(0) > o_.queue_size)
      throw UserError("algorithm.csg_queue_size is " + std::to_string(o_.queue_size) + " but one global step brings " +
                          std::to_string(keys.size(0)) + " keys per stage",
                      "algorithm.csg_queue_size",
                      "set it to at least the global batch's keys per step (samples x chunks^2)");
    enqueue(queues_[i], pointers_[i], keys, o_.wrap);
    pending_keys_[i] = at::Tensor();
    pending_order_[i] = at::Tensor();
  }
}

bool apply_train_heads(const CsgOptions& o, torch::nn::Module& query_heads) {
  if (!o.train_heads)
    for (auto& p : query_heads.parameters()) p.set_requires_grad(false);
  return o.train_heads;
}

}  // namespace uda::algos::contrastive
