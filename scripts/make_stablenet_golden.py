#!/usr/bin/python3
"""Golden values of StableNet's sample weighting for uda's stablenet plugin.

Runs the OFFICIAL functions of xxgege/StableNet (imported from the checkout
given by --stablenet; nothing of it is copied here):
  * loss_reweighting.random_fourier_features_gpu with given w, b,
  * loss_reweighting.cov (weighted),
  * training/reweighting.weight_learner (the 20-step inner SGD loop and the
    memory update), with its random Fourier draws replaced by a fixed list
    (the official draws torch.randn/rand per evaluation; uda draws from its
    step generator — the list makes both sides see the same draws),
on CPU (Tensor.cuda is made the identity) in float32, on inputs given by
closed formulas, and writes inputs and outputs as JSON for
tests/algos/stablenet_test.cpp.

Usage:
  /usr/bin/python3 scripts/make_stablenet_golden.py --stablenet /path/to/StableNet \\
      --out tests/fixtures/augment/stablenet_official.json
(the checkout: git archive of github.com/xxgege/StableNet, commit in the output)
"""
import argparse
import json
import math
import sys
import types

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--stablenet", required=True)
ap.add_argument("--commit", default="")
ap.add_argument("--out", required=True)
a = ap.parse_args()

torch.Tensor.cuda = lambda self, *args, **kw: self  # CPU only
sys.path.insert(0, a.stablenet)
import loss_reweighting  # noqa: E402
from training import reweighting  # noqa: E402


def formula(shape, phase, scale=1.0, offset=0.0):
    n = 1
    for s in shape:
        n *= s
    q = torch.arange(n, dtype=torch.float64)
    return (offset + scale * torch.sin(0.37 * q + phase)).reshape(shape).float()


n, m, r, num_f = 8, 8, 6, 1
features = formula([n, r], 0.3, 1.5, 0.5)
memory_features = formula([m, r], 1.7, 0.8, 0.2)
memory_weights = formula([m, 1], 2.9, 0.3, 1.0)
epochs = 20
draws = [(formula([num_f, 1], 0.5 + e, 1.2), formula([r, num_f], 0.9 + 2 * e, math.pi, math.pi)) for e in range(epochs)]

# random_fourier_features / cov on the first draw.
w0, b0 = draws[0]
z_sum = loss_reweighting.random_fourier_features_gpu(features, w=w0, b=b0.repeat((n, 1, 1)), num_f=num_f, sum=True)
z_cat = loss_reweighting.random_fourier_features_gpu(features, w=w0, b=b0.repeat((n, 1, 1)), num_f=num_f, sum=False)
sw = torch.softmax(formula([n, 1], 0.1, 0.5), 0)
cov_w = loss_reweighting.cov(z_sum[:, :, 0], sw)
cov_plain = loss_reweighting.cov(z_sum[:, :, 0])

counter = {"e": 0}


def fixed_rff(x, w=None, b=None, num_f=None, sum=True, sigma=None, seed=None):
    dw, db = draws[counter["e"]]
    counter["e"] += 1
    return loss_original(x, w=dw, b=db.repeat((x.size(0), 1, 1)), num_f=num_f, sum=sum)


loss_original = loss_reweighting.random_fourier_features_gpu
loss_reweighting.random_fourier_features_gpu = fixed_rff

args = types.SimpleNamespace(lr=0.01, lrbl=1.0, epochb=epochs, num_f=num_f, sum=True, decay_pow=2, lambdap=70.0,
                             lambda_decay_rate=1, lambda_decay_epoch=5, min_lambda_times=0.01,
                             first_step_cons=1, presave_ratio=0.9)
cases = {}
for name, (global_epoch, it, lambdap) in {"steady": (1, 0, 70.0), "warmup": (0, 3, 70.0),
                                          "strong": (1, 0, 0.05)}.items():
    counter["e"] = 0
    args.lambdap = lambdap
    sw_, pf, pw = reweighting.weight_learner(features.clone(), memory_features.clone(), memory_weights.clone(), args,
                                              global_epoch, it)
    cases[name] = {"global_epoch": global_epoch, "iter": it, "lambdap": lambdap, "weights": sw_.detach().view(-1).tolist(),
                   "memory_features": pf.detach().reshape(-1).tolist(),
                   "memory_weights": pw.detach().reshape(-1).tolist()}

out = {
    "source": "xxgege/StableNet " + a.commit + " loss_reweighting.py, training/reweighting.py",
    "torch": torch.__version__,
    "n": n, "m": m, "r": r, "num_f": num_f, "epochs": epochs,
    "features": features.reshape(-1).tolist(),
    "memory_features": memory_features.reshape(-1).tolist(),
    "memory_weights": memory_weights.reshape(-1).tolist(),
    "draws": [{"w": w.reshape(-1).tolist(), "b": b.reshape(-1).tolist()} for w, b in draws],
    "cov_weights": sw.reshape(-1).tolist(),
    "rff_sum": z_sum.reshape(-1).tolist(),
    "rff_cat": z_cat.reshape(-1).tolist(),
    "cov_weighted": cov_w.reshape(-1).tolist(),
    "cov_plain": cov_plain.reshape(-1).tolist(),
    "cases": cases,
}
with open(a.out, "w") as f:
    json.dump(out, f)
print("wrote", a.out)
