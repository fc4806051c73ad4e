// Evaluation under an adversarial attack (train.eval_attack = pgd): every
// evaluation image is also attacked by L-inf PGD against the network being
// evaluated, and the accuracy on the attacked images is reported beside the
// natural one — DIAL's "robust accuracy" (matanle51/DIAL 275c7e0
// whitebox_attack.py _pgd_whitebox / eval_adv_test_whitebox: a uniform
// random start in [-eps, eps], `steps` signed-gradient steps of the
// cross-entropy, each projected into the eps-ball and the pixel box; the
// network in eval mode; MNIST: eps 0.3, 40 steps of 0.01,
// train_dial_mnist.py). The attack is algos/adversarial/pgd.h, DIAL's own.
//
// The random start of an image is drawn from a generator seeded by
// (train.seed, the xxHash64 of the image's values): the same image gets the
// same start whichever batch, rank or world size it is evaluated in, so the
// robust accuracy is world-size invariant and repeatable.
#pragma once

#include "core/config.h"
#include "worker/evaluator.h"

#include <optional>

namespace uda::worker {

// The configured attack against `predict`, or nothing with
// train.eval_attack = none. UserError naming the key for an epsilon or step
// size < 0 or steps < 1. `predict` must be differentiable in its input (the
// algorithms' predict: the network in eval mode).
std::optional<AttackFn> make_eval_attack(const config::Config& cfg, const PredictFn& predict, c10::Device device);

}  // namespace uda::worker
