// The algorithm plugin interface: one class per method, registered by name.
//
// An algorithm owns its networks, optimizers and extra state. The trainer
// calls setup() once, then train_step() every iteration, and predict() for
// evaluation and inference. Everything stateful is registered with the
// context (ctx.track_*), which checkpoints it and keeps replicas identical.
// Several networks and optimizers, EMA teachers, frozen reference networks,
// queues and second-order steps all fit this shape (DESIGN.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace uda::worker {
class TrainContext;
}

namespace uda::algos {

// One domain's part of a batch, on the rank's device.
struct DomainBatch {
  at::Tensor images;   // float [N, 3, H, W], normalised
  at::Tensor labels;   // int64 [N, H, W] (255 = ignore) or [N] class ids; undefined when unlabelled
  at::Tensor indices;  // int64 [N] global sample slots (seeds per-sample randomness)
  bool defined() const { return images.defined(); }
};

struct Batch {
  DomainBatch source;
  DomainBatch target;                // UDA: unlabelled target images
  std::vector<DomainBatch> domains;  // DG: one batch per source domain
};

// Named scalars of one step (losses, statistics); the trainer averages them
// over ranks for logging and stops on a non-finite loss.
using Scalars = std::vector<std::pair<std::string, double>>;

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual void setup(worker::TrainContext& ctx) = 0;
  virtual Scalars train_step(const Batch& batch, worker::TrainContext& ctx) = 0;
  // Logits [N, C, H, W] at the input size, for evaluation (teacher or student
  // as the method prescribes).
  virtual at::Tensor predict(const at::Tensor& images) = 0;
  // The domain of the images the following predict() calls receive (DG
  // evaluation: each domain's split in turn), "" when unknown. Methods with
  // domain-specific parts (DMG's masks) use it; most ignore it.
  virtual void set_eval_domain(const std::string& domain) {}

  // Pictures for `uda report` (worker/report_images.h). Called on rank 0
  // only, after an evaluation, and report_images() also after each
  // checkpoint (samples/iter_N/, train.checkpoint_samples): they must not
  // communicate, draw random numbers or change what training continues with.
  // Pseudo-labels [N, H, W] (int64 class ids) of evaluation images
  // [N, 3, H, W], or an undefined tensor when the method has none.
  virtual at::Tensor pseudo_label(const at::Tensor& images) { return {}; }
  // Named image batches [N, C, H, W] (C = 1 or 3, values in [0, 1]), each
  // shown as one grid: a generator's samples, say.
  virtual std::vector<std::pair<std::string, at::Tensor>> report_images() { return {}; }
};

using AlgorithmFactory = std::function<std::unique_ptr<Algorithm>()>;

// Registration from a static initialiser in the algorithm's .cpp:
//   static const AlgorithmRegistrar kReg("source_only", [] { return std::make_unique<SourceOnly>(); });
struct AlgorithmRegistrar {
  AlgorithmRegistrar(const std::string& name, AlgorithmFactory factory);
};

std::vector<std::string> registered_algorithms();
// UserError naming algorithm.name and the registered names when unknown.
std::unique_ptr<Algorithm> make_algorithm(const std::string& name);

}  // namespace uda::algos
