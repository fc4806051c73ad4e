// CSG's contrastive branch (NVlabs/CSG 175ecdf model/csg_builder.py [csg]),
// shared by the classification and the segmentation plugin: the options
// (algorithm.csg_* keys), the projection heads of query and key network,
// the per-stage queues, and the pieces of setup that check the user's input.
#pragma once

#include "algos/contrastive/csg_ops.h"
#include "algos/contrastive/csg_views.h"
#include "worker/optimizer_factory.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace uda::config {
class Config;
}
namespace uda::worker {
class TrainContext;
}

namespace uda::algos::contrastive {

struct CsgOptions {
  double weight = 0.1;              // w: 0.1 classification, 75 segmentation [train.sh, train_seg.sh]
  std::vector<int64_t> stages{3, 4};
  int64_t chunks = 1;               // c x c patches per map, each a key (segmentation: 8)
  int64_t queue_size = 65536;       // K
  int64_t dim = 128;
  double temperature = 0.07;
  double momentum = 0.999;
  bool apool = true;
  QueueWrap wrap = QueueWrap::Official;
  std::string key_backbone;         // .pth of the key featurizer ("" = the query's initial weights)
  int randaug_n = 1, randaug_m = 6;  // the views (classification)
  // The query projection heads are trained (train.py :183-185 puts fc_csg in
  // the optimizer); false reproduces the official segmentation code, whose
  // optimizer leaves fc_csg out (train_seg.py :125-133): the heads keep their
  // initialisation and the key heads, EMA copies of them, stay equal to them
  // (up to the EMA's float rounding).
  bool train_heads = true;
};

// Makes the query heads' parameters untrainable when the options say so
// (algorithm.csg_train_heads = false); returns whether they train.
bool apply_train_heads(const CsgOptions& o, torch::nn::Module& query_heads);

// The algorithm.csg_* keys (declared in csg_model.cpp); UserError naming the
// key for a value out of range.
CsgOptions csg_options(const config::Config& cfg, bool segmentation);

// Channels of the selected stages out of the network's `available` ones
// (stage s = available[s - 1]); UserError naming algorithm.csg_stages when
// the backbone lacks one.
std::vector<int64_t> stage_channels_of(const std::vector<int64_t>& available, const CsgOptions& o,
                                       const std::string& backbone);

// data.<stream>.mean / std.
PixelNormalization pixel_normalization(const config::Config& cfg, const std::string& stream);

worker::NamedParameters named_parameters(torch::nn::Module& m, const std::string& prefix);
// Copies every parameter and buffer of `from` into the same-named one of `to`.
void copy_state(torch::nn::Module& from, torch::nn::Module& to);
void freeze(torch::nn::Module& m);
// Loads a featurizer's state dict (a torchvision ResNet file or `uda export`
// of a classifier; its classifier `fc.*` is ignored) into `key`: a key
// missing from the file or one the network lacks is a UserError naming the
// key, the file and algorithm.csg_key_backbone.
void load_key_backbone(torch::nn::Module& key, const std::string& path, int64_t in_channels,
                       const std::vector<std::string>& ignore = {"fc."});

// What losses() returns: the weighted-sum-ready total Σ_s InfoNCE_s and the
// per-stage terms (for logging).
struct BranchLosses {
  at::Tensor total;
  std::vector<at::Tensor> per_stage;
};

// The projection heads, their EMA copies and the queues, registered with
// the context (checkpointed: csg_heads.*, csg_key_heads.*, csg.queue<s>,
// csg.queue_ptr<s>).
class ContrastiveBranch {
 public:
  // `channels`: C_s of each selected stage.
  ContrastiveBranch(const CsgOptions& o, const std::vector<int64_t>& channels, worker::TrainContext& ctx);
  ~ContrastiveBranch();
  std::shared_ptr<torch::nn::Module> query_heads() const;
  // [csg :99-104] key heads = m key heads + (1 - m) query heads.
  void momentum_update();
  // The InfoNCE terms from the stage maps (index s - 1 for stage s) of the
  // query network on the query view (`maps_q`, with gradient), of the query
  // network on the key view (`maps_qk`, A-Pool's attention; may be empty
  // without A-Pool) and of the key network (`maps_k`). `domains`/`slots`
  // [N] order the keys in the global batch. Keeps the keys for
  // enqueue_step_keys.
  BranchLosses losses(const std::vector<at::Tensor>& maps_q, const std::vector<at::Tensor>& maps_qk,
                      const std::vector<at::Tensor>& maps_k, const at::Tensor& domains, const at::Tensor& slots);
  // Gathers every rank's keys of this step (rank order, then sorted into the
  // global batch's order: patch, training domain, global slot) and enqueues
  // them. Collective.
  void enqueue_step_keys(worker::TrainContext& ctx);
  const std::vector<at::Tensor>& queues() const { return queues_; }

 private:
  CsgOptions o_;
  std::shared_ptr<torch::nn::Module> query_heads_, key_heads_;
  std::vector<std::shared_ptr<torch::nn::Module>> q_stage_, k_stage_;
  std::vector<at::Tensor> queues_, pointers_;
  std::vector<at::Tensor> pending_keys_, pending_order_;
};

}  // namespace uda::algos::contrastive
