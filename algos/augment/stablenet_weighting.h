// StableNet's sample weighting (Zhang et al., "Deep Stable Learning for
// Out-Of-Distribution Generalization", CVPR 2021; official code
// xxgege/StableNet, cited as [sn] with file:line): per batch, sample weights
// that make the random-Fourier features of the (detached) features
// pairwise uncorrelated under the weighting, learned by a short SGD loop,
// with a memory of earlier batches' features and weights (the "global
// table") that enters the weighted covariance beside the batch.
//
// Pure functions of their inputs: the trainer plugin (stablenet.cpp) calls
// them on the GLOBAL batch, identically on every rank, so the weights do
// not depend on the number of ranks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace uda::algos::stablenet {

// One draw of the random Fourier map ([sn] loss_reweighting.py:39-42):
// w [num_f, 1] ~ N(0, 1) / sigma, b [r, num_f] ~ U(0, 2 pi).
struct RffDraw {
  at::Tensor w, b;
};

// [sn] loss_reweighting.py:30-58 random_fourier_features_gpu: every
// feature column x_j (scalar) is mapped to z = x_j w^T + b_j
// ([n, r, num_f]), min-max normalised over the r features of each sample
// and frequency, scaled to [0, pi/2], then sqrt(2/num_f) (cos + sin)
// (sum) or [cos, sin] concatenated on the last axis.
at::Tensor random_fourier_features(const at::Tensor& x, const RffDraw& draw, bool sum);

// [sn] loss_reweighting.py:66-78 cov with weights w ([n] or [n, 1], summing
// to 1): (w x)^T x - (sum_i w_i x_i)(sum_i w_i x_i)^T; without weights the
// plain covariance (divided by n).
at::Tensor weighted_cov(const at::Tensor& x, const at::Tensor& w);

// [sn] loss_reweighting.py:81-92 lossb_expect: sum over the Fourier
// frequencies of the squared off-diagonal entries of the weighted
// covariance of the RFF features.
at::Tensor decorrelation_loss(const at::Tensor& features, const at::Tensor& weights, const RffDraw& draw, bool sum);

struct Options {
  int64_t epochs = 20;         // [sn] ops/config.py:79 epochb
  double lr = 1.0;             // :73 lrbl
  double momentum = 0.9;       // training/reweighting.py:16
  double lambdap = 70.0;       // :76 lambdap
  double decay_pow = 2.0;      // :106 decay_pow
  int64_t num_f = 1;           // :70 num_f
  bool sum = true;             // :124 sum
  double presave_ratio = 0.9;  // :127 presave_ratio
};

struct Result {
  at::Tensor weights;          // [n]: softmax of the learned weights (sums to 1)
  at::Tensor memory_features;  // [m, r] updated memory
  at::Tensor memory_weights;   // [m, 1] updated memory (raw, pre-softmax weights)
};

// [sn] training/reweighting.py:9-50 weight_learner: weights re-initialised
// to ones, `epochs` SGD steps (momentum, lr * 0.1^(epoch // (epochs/2)),
// schedule.py:9) on lossb(cat(features, memory), softmax(cat(weights,
// memory weights))) / lambdap + sum softmax(weights)^decay_pow; then the
// memory update: the running average (memory * step + new) / (step + 1)
// while `warmup_step` >= 0 (the official first epoch's first 10 batches),
// else memory * ratio + new * (1 - ratio) on its first n rows. `draw(e)`
// gives the Fourier draw of inner step e (the official draws a fresh one
// per evaluation of lossb). `features` are detached inside.
Result learn_weights(const at::Tensor& features, const at::Tensor& memory_features, const at::Tensor& memory_weights,
                     const Options& options, const std::function<RffDraw(int64_t)>& draw, int64_t warmup_step);

}  // namespace uda::algos::stablenet
