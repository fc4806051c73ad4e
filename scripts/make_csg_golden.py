#!/usr/bin/python3
"""Golden values of the official CSG code (github.com/NVlabs/CSG, commit
175ecdf, model/csg_builder.py) for uda's tests of algos/contrastive/
(tests/algos/csg_test.cpp, tests/fixtures/csg/*.json).

The official file is NOT part of this project: it is imported, unmodified,
from the path given by --csg-builder. Its CSG module is built on a stand-in
encoder (class named ResNet, Bottleneck-like blocks with conv3 so that the
official channel probing works) whose forward and forward_backbone hand out
fixed stage maps: the query network's maps of the query view (requiring
grad), its maps of the key view (A-Pool's attention) and the key network's
maps. The official CSG.forward then runs unchanged: the EMA of the key heads,
A-Pool, the projection heads, the logits against the queue, the dequeue /
enqueue (without torch.distributed, concat_all_gather returns its input). The
InfoNCE loss is train.py's CrossEntropyLoss(logits, targets) summed over the
stages. Tensor.cuda is replaced by the identity (CPU only).

Recorded per case and step: the query heads (set before the step), the stage
maps, the key heads after the EMA, the per-stage loss, the gradients of the
summed loss w.r.t. the query maps and the query heads, the queues and
pointers after the enqueue. Between steps the query heads take an SGD step
(lr 0.5) on those gradients, so that the EMA moves. Also chunk_feature and
adaptive_pool on their own.

Usage:
  git -C /work/.mirror/NVlabs+CSG/repo show HEAD:model/csg_builder.py > /tmp/csg_builder.py
  /usr/bin/python3 scripts/make_csg_golden.py --csg-builder /tmp/csg_builder.py --out tests/fixtures/csg
"""
import argparse
import importlib.util
import json
import os

import torch
import torch.nn as nn

torch.Tensor.cuda = lambda self, *a, **k: self  # CPU stand-in for the official .cuda()


def load(path):
    spec = importlib.util.spec_from_file_location("csg_builder", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def t2j(t):
    return t.detach().double().tolist()


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv3 = nn.Conv2d(1, c, 1)


MAPS = {}


class ResNet(nn.Module):
    """Stand-in encoder: returns the stage maps stored under (role, view)."""
    dims = (4, 5, 6, 8)

    def __init__(self, num_classes=128, pretrained=True):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 1)
        for s in range(1, 5):
            setattr(self, "layer%d" % s, nn.Sequential(Block(self.dims[s - 1])))
        self.fc = nn.Linear(8, num_classes)
        self.role = None

    def forward(self, x, output_features=(), task="new"):
        return None, {name: MAPS[(self.role, int(x.item()))][name] for name in output_features}

    def forward_backbone(self, x, output_features=()):
        return self.forward(x, output_features)


def run_case(mod, name, chunks, sizes, K, n, steps, seed):
    torch.manual_seed(seed)
    stages = [3, 4]
    model = mod.CSG(ResNet, dim=7, K=K, m=0.9, T=0.07, stages=stages, chunks=[chunks] * 2, apool=True)
    model.encoder_q.role, model.encoder_k.role = "q", "k"
    case = {"K": K, "dim": 7, "m": 0.9, "T": 0.07, "stages": stages, "chunks": chunks,
            "queues0": {str(s): t2j(getattr(model, "queue%d" % s)) for s in stages}, "steps": []}
    im_q, im_k = torch.tensor([0.]), torch.tensor([1.])
    for step in range(steps):
        maps = {}
        for role, view in (("q", 0), ("q", 1), ("k", 1)):
            maps[(role, view)] = {}
            for s in stages:
                c, hw = ResNet.dims[s - 1], sizes[s]
                m = torch.relu(torch.randn(n, c, hw, hw)) + 0.01 * torch.rand(n, c, hw, hw)
                if role == "q" and view == 0:
                    m.requires_grad_(True)
                maps[(role, view)]["layer%d" % s] = m
        MAPS.clear()
        MAPS.update(maps)
        heads_q = {k: t2j(v) for k, v in model.encoder_q.fc_csg.state_dict().items()}
        res = model(im_q, im_k)
        losses = [nn.functional.cross_entropy(l, t) for l, t in zip(res["predictions_csg"], res["targets_csg"])]
        total = sum(losses)
        model.encoder_q.fc_csg.zero_grad()
        total.backward()
        rec = {
            "heads_q": heads_q,
            "maps": {"%s%d" % r: {str(s): t2j(maps[r]["layer%d" % s]) for s in stages} for r in maps},
            "heads_k_after_ema": {k: t2j(v) for k, v in model.encoder_k.fc_csg.state_dict().items()},
            "losses": [float(l) for l in losses],
            "grad_maps_q": {str(s): t2j(maps[("q", 0)]["layer%d" % s].grad) for s in stages},
            "grad_heads_q": {k: t2j(p.grad) for k, p in model.encoder_q.fc_csg.named_parameters()},
            "queues": {str(s): t2j(getattr(model, "queue%d" % s)) for s in stages},
            "ptrs": {str(s): int(getattr(model, "queue_ptr%d" % s)[0]) for s in stages},
        }
        case["steps"].append(rec)
        with torch.no_grad():
            for p in model.encoder_q.fc_csg.parameters():
                p -= 0.5 * p.grad
    return case


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csg-builder", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    mod = load(args.csg_builder)
    os.makedirs(args.out, exist_ok=True)
    out = {
        # K = 10, 4 keys a step: the third step wraps (ptr 8 + 4 > 10).
        "classification": run_case(mod, "classification", 1, {3: 3, 4: 2}, 10, 4, 3, 0),
        # 2 x 2 patches of 4x4 maps (segmentation): 3 samples -> 12 keys a step, K = 30.
        "patches": run_case(mod, "patches", 2, {3: 4, 4: 6}, 30, 3, 3, 1),
    }
    torch.manual_seed(2)
    f = torch.relu(torch.randn(2, 3, 5, 4))
    a = torch.relu(torch.randn(2, 3, 5, 4)) + 0.1
    out["apool"] = {"features": t2j(f), "attn_from": t2j(a), "pooled": t2j(mod.CSG.adaptive_pool(None, f, a, 0))}
    x = torch.randn(2, 3, 6, 9)
    out["chunk"] = {"x": t2j(x), "chunks": 3, "out": t2j(mod.chunk_feature(x, 3)), "shape": list(mod.chunk_feature(x, 3).shape)}
    with open(os.path.join(args.out, "csg.json"), "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
