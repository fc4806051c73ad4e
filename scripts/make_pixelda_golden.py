#!/usr/bin/python3
"""Golden values of PixelDA's loss formulas, for tests/algos/pixelda_losses_test.cpp
(tests/fixtures/pixelda/losses.json).

The official code (tensorflow/models, research/domain_adaptation/
pixel_domain_adaptation/pixelda_losses.py) is TensorFlow 1 / tf.contrib, which
is not installable here; so this script re-states ONLY the formulas of the TF
functions it calls, element by element and with TF's reductions, in
python3-torch (float64), on fixed inputs:

  mpse      tf.contrib.losses.mean_pairwise_squared_error(predictions, labels,
            weight) (tensorflow/contrib/losses/python/losses/loss_ops.py):
              diffs = predictions - labels
              term1 = 2 * sum(diffs^2 per sample) / num_present_per_batch
              term2 = 2 * (sum(diffs per sample))^2 / num_present_per_batch^2
              loss  = _scale_losses(term1 - term2, weight)   # a SUM over samples
            with num_present_per_batch = elements per sample (scalar weight,
            _num_present). pixelda_losses.py _transferred_similarity_loss
            'mpse'; written here as the explicit double sum over ordered pairs
            (i, j) of ((p_i - p_j) - (l_i - l_j))^2 / n^2, its definition
            (the docstring's "pairs of differences"), not the closed form C++
            uses, so that the two are independent.
  masked    pixelda_losses.py masked_mpse: mask = labels[..., 3] < 0.99 tiled
            over the 4 channels, predictions *= mask, labels *= mask, then mpse.
  sigmoid   tf.losses.sigmoid_cross_entropy(multi_class_labels=z, logits=x) with
            scalar weight 1: mean of max(x, 0) - x z + log(1 + exp(-|x|))
            (tf.nn.sigmoid_cross_entropy_with_logits' documented formula);
            pixelda_losses.py add_domain_classifier_losses (transferred -> 0,
            target -> 1) and g_step_loss (transferred -> 1).
  softmax   tf.losses.softmax_cross_entropy(onehot, logits): mean over samples
            of -log softmax(logits)[y]  (_add_task_specific_losses).

Gradients (d loss / d predictions, d loss / d logits) come from torch autograd
on these explicit formulas.

Usage: /usr/bin/python3 scripts/make_pixelda_golden.py --out tests/fixtures/pixelda
"""
import argparse
import json
import os

import torch


def mpse_pairs(p, l):
    # Per sample: mean over ordered pairs of ((p_i - p_j) - (l_i - l_j))^2,
    # = 2 * sum d^2 / n - 2 * (sum d)^2 / n^2 with d = p - l.
    d = (p - l).reshape(p.shape[0], -1)
    n = d.shape[1]
    pair = d[:, :, None] - d[:, None, :]
    return (pair ** 2).sum(dim=(1, 2)) / (n * n)


def sigmoid_ce(x, z):
    return (x.clamp(min=0) - x * z + torch.log1p(torch.exp(-x.abs()))).mean()


def softmax_ce(logits, y):
    return -(torch.log_softmax(logits, dim=1).gather(1, y[:, None])).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(20170601)
    out = {}

    p = (torch.rand(3, 3, 5, 4, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    l = torch.rand(3, 3, 5, 4, generator=g, dtype=torch.float64) * 2 - 1
    per = mpse_pairs(p, l)
    total = per.sum()  # _scale_losses: reduce_sum over the batch
    (gp,) = torch.autograd.grad(total, p)
    out["mpse"] = {"predictions": p.tolist(), "labels": l.tolist(), "per_sample": per.tolist(),
                   "sum": total.item(), "grad_sum": gp.tolist()}

    pm = (torch.rand(2, 4, 3, 3, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    lm = torch.rand(2, 4, 3, 3, generator=g, dtype=torch.float64)
    lm[:, 3] = torch.where(torch.rand(2, 3, 3, generator=g, dtype=torch.float64) < 0.4,
                           torch.ones(2, 3, 3, dtype=torch.float64), lm[:, 3])
    mask = (lm[:, 3:4] < 0.99).to(torch.float64)
    perm = mpse_pairs(pm * mask, lm * mask)
    (gpm,) = torch.autograd.grad(perm.sum(), pm)
    out["masked_mpse"] = {"predictions": pm.tolist(), "labels": lm.tolist(), "per_sample": perm.tolist(),
                          "grad_sum": gpm.tolist()}

    x = (torch.randn(6, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
    for name, z in (("sigmoid_label0", 0.0), ("sigmoid_label1", 1.0)):
        v = sigmoid_ce(x, torch.full_like(x, z))
        (gx,) = torch.autograd.grad(v, x)
        out[name] = {"logits": x.tolist(), "label": z, "value": v.item(), "grad": gx.tolist()}

    logits = (torch.randn(5, 4, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    y = torch.tensor([0, 3, 1, 1, 2])
    v = softmax_ce(logits, y)
    (gl,) = torch.autograd.grad(v, logits)
    out["softmax"] = {"logits": logits.tolist(), "labels": y.tolist(), "value": v.item(), "grad": gl.tolist()}

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "losses.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
