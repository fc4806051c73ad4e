// MLDG (Li, Yang, Song, Hospedales, "Learning to Generalize: Meta-Learning
// for Domain Generalization", AAAI 2018), in two orders
// (algorithm.mldg_order):
//
//  first   DomainBed's first-order MLDG exactly (facebookresearch/DomainBed
//          b93c22a, domainbed/algorithms.py:857-939 [db]): the training
//          domains split into meta-train / meta-test by a permutation
//          (lib/misc.py:196-210 split_meta_train_test), for each pair (i, j)
//          a copy of the network stepped once by a fresh Adam on L_i, then
//          network grad += (G_i + β G_j(θ'_i)) / num_domains, and the outer
//          optimizer's step. The default.
//  second  the paper's exact second-order update (Algorithm 1, Eq. 3):
//          θ' = θ − α ∇F(θ) with F the mean loss of the meta-train domains,
//          G the mean loss of the meta-test domains, and the outer step on
//          ∇_θ [F(θ) + β G(θ')], differentiated through the inner SGD step.
//
// In both orders the inner gradient is the GLOBAL batch's (averaged over
// ranks, comm/differentiable_reduce.h): every rank steps to the same θ', and
// W ranks x b compute what 1 rank x W*b computes (docs/SCALING.md). The
// network at θ' is evaluated in place through models/layers/fast_weights.h.
// docs/ALGORITHMS.md ("MLDG") gives the details and the deviations.
#pragma once

#include "algos/algorithm.h"
#include "models/classifiers/classifier.h"

#include <cstdint>
#include <vector>

namespace uda::worker {
class OptimizerBundle;
}
namespace uda::comm {
class GradReducer;
}

namespace uda::algos {

class Mldg : public Algorithm {
 public:
  void setup(worker::TrainContext& ctx) override;
  // Draws the split from ctx.step_generator("mldg/split") (the same on every
  // rank; DomainBed: torch.randperm(num_domains)) and calls update().
  Scalars train_step(const Batch& batch, worker::TrainContext& ctx) override;
  at::Tensor predict(const at::Tensor& images) override;

  // One update with a given permutation of the step's training domains
  // (batch.domains): meta-train = perm[0, n - n_meta_test), meta-test = the
  // rest. Public for the golden-value tests.
  Scalars update(const Batch& batch, const std::vector<int64_t>& perm, worker::TrainContext& ctx);

  const models::Classifier& network() const { return net_; }

 private:
  Scalars first_order(const Batch& batch, const std::vector<int64_t>& perm, worker::TrainContext& ctx);
  Scalars second_order(const Batch& batch, const std::vector<int64_t>& perm, worker::TrainContext& ctx);

  models::Classifier net_;
  std::vector<at::Tensor> params_;  // trainable, in registration order
  worker::OptimizerBundle* opt_ = nullptr;
  comm::GradReducer* reducer_ = nullptr;
  bool second_ = false;
  double beta_ = 1.0;
  double inner_lr_ = 0.0;
  int64_t n_meta_test_ = 2;
};

}  // namespace uda::algos
