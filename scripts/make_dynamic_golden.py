#!/usr/bin/python3
"""Golden values of the official Dynamic Convolution layer and DMG's masks.

Runs, in float64 on fixed inputs, nothing of either project copied here:
  * Dynamic_conv2d of kaijieshi7/Dynamic-convolution-Pytorch (4befa50,
    dynamic_conv.py, imported from the checkout given by --dyconv), at
    temperatures 30, 4 and 1 (the official module's `temperature` attribute),
    with and without bias, stride 1 and 2, groups 1;
  * SuperMask of prithv1/DMG (6b162b4, models/supermasks.py, imported from
    --dmg): the soft-IoU overlap penalty and the "softscale" / "avg_mask_softscale"
    forward on channel (conv_mode) activations.
tests/models/dynamic_conv_test.cpp and tests/algos/dmg_test.cpp build the same
parameters and inputs from the formulas below and compare.

Formulas (q = flat element index, t = the parameter's index in
named_parameters()):
  parameter:  0.3 * sin(0.37 q + 1.1 t + 0.5)
  input x:    sin(0.013 q + 0.1)        [N, C, H, W]
  DMG logits of domain d at layer l: 2 * sin(0.7 q + 1.3 d + 0.4 l)

Usage:
  /usr/bin/python3 scripts/make_dynamic_golden.py \\
      --dyconv /work/.mirror/kaijieshi7+Dynamic-convolution-Pytorch/repo \\
      --dmg /work/.mirror/prithv1+DMG/repo --out tests/fixtures/dynamic/golden.json
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile


def load(path, name, torch):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fill(module, torch):
    with torch.no_grad():
        for t, (_, p) in enumerate(module.named_parameters()):
            q = torch.arange(p.numel(), dtype=torch.float64)
            p.copy_((0.3 * torch.sin(0.37 * q + 1.1 * t + 0.5)).view_as(p))


def flat_values(y, count=8):
    f = y.reshape(-1)
    idx = [int(i * (f.numel() - 1) / (count - 1)) for i in range(count)]
    return idx, [float(f[i]) for i in idx]


def source_file(repo, path):
    """The file's text from a checkout or a bare git directory."""
    if os.path.isfile(os.path.join(repo, path)):
        return os.path.join(repo, path)
    text = subprocess.check_output(["git", "--git-dir", repo if repo.endswith(".git") else repo, "show",
                                    "HEAD:" + path])
    tmp = tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False)
    tmp.write(text)
    tmp.close()
    return tmp.name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dyconv", required=True)
    ap.add_argument("--dmg", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import torch
    torch.set_default_dtype(torch.float64)
    dy = load(source_file(a.dyconv, "dynamic_conv.py"), "dynamic_conv", torch)
    sm = load(source_file(a.dmg, "models/supermasks.py"), "supermasks", torch)

    cases = []
    for (cin, cout, k, stride, pad, bias, n, hw) in [(8, 6, 3, 1, 1, True, 3, 7), (5, 4, 3, 2, 1, False, 2, 6),
                                                    (3, 4, 1, 1, 0, True, 2, 5)]:
        for tau in (31, 4, 1):  # the official assert temperature % 3 == 1
            m = dy.Dynamic_conv2d(cin, cout, k, stride=stride, padding=pad, bias=bias, K=4, temperature=34)
            m.attention.temperature = tau
            fill(m, torch)
            q = torch.arange(n * cin * hw * hw, dtype=torch.float64)
            x = torch.sin(0.013 * q + 0.1).view(n, cin, hw, hw)
            y = m(x)
            att = m.attention(x)
            idx, vals = flat_values(y)
            cases.append({"in": cin, "out": cout, "kernel": k, "stride": stride, "padding": pad, "bias": bias,
                          "n": n, "hw": hw, "temperature": tau,
                          "param_names": [name for name, _ in m.named_parameters()],
                          "param_shapes": [list(p.shape) for _, p in m.named_parameters()],
                          "out_shape": list(y.shape), "out_sum": float(y.sum()), "out_abs_sum": float(y.abs().sum()),
                          "out_index": idx, "out_values": vals, "attention": att.tolist()})

    masks = []
    domains = ["d0", "d1", "d2"]
    for layer, size in enumerate([6, 4]):
        m = sm.SuperMask(domains, size, init_setting="random_uniform")
        with torch.no_grad():
            for d, name in enumerate(domains):
                q = torch.arange(size, dtype=torch.float64)
                m.super_mask_logits[name].copy_(2 * torch.sin(0.7 * q + 1.3 * d + 0.4 * layer))
        act = torch.sin(0.013 * torch.arange(3 * size * 2 * 2, dtype=torch.float64) + 0.1).view(3, size, 2, 2)
        soft, _, _ = m(act, ["d2", "d0", "d1"], mode="softscale", conv_mode=True)
        avg, _, _ = m(act, ["d0", "d0", "d0"], mode="avg_mask_softscale", conv_mode=True)
        greedy, _, _ = m(act, ["d1", "d1", "d2"], mode="greedy", conv_mode=True)
        masks.append({"size": size, "overlap_penalty": float(m.overlap_penalty()),
                      "softscale_rows_domains": [2, 0, 1], "softscale": soft.reshape(-1).tolist(),
                      "avg_softscale": avg.reshape(-1).tolist(),
                      "greedy_rows_domains": [1, 1, 2], "greedy": greedy.reshape(-1).tolist()})

    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"source": {"dynamic_conv": "kaijieshi7/Dynamic-convolution-Pytorch 4befa50 dynamic_conv.py",
                              "dmg": "prithv1/DMG 6b162b4 models/supermasks.py"},
                   "torch": torch.__version__, "dynamic_conv": cases, "dmg_masks": masks}, f, indent=1)


if __name__ == "__main__":
    main()
