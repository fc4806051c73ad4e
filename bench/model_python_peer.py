#!/usr/bin/python3
"""Python peer of bench/model_bench.cpp: MiT + DAFormer head (sepaspp) in
Debian's python3-torch, rebuilt from the architecture description of the
parity fixture (tests/fixtures/parity/README.md, "Architecture settings")
for timing only. Same arguments and JSON output as model_bench.

  /usr/bin/python3 bench/model_python_peer.py --backbone mit_b5 --size 512 --threads 1 --iters 3
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTHS = {0: (2, 2, 2, 2), 1: (2, 2, 2, 2), 2: (3, 4, 6, 3), 3: (3, 4, 18, 3), 4: (3, 8, 27, 3), 5: (3, 6, 40, 3)}
HEADS, SR = (1, 2, 5, 8), (8, 4, 2, 1)


class Embed(nn.Module):  # overlapping patch embedding + LayerNorm(1e-5)
    def __init__(self, cin, dim, k, s):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, k, s, k // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class Block(nn.Module):  # efficient self-attention + Mix-FFN, pre-norm (1e-6)
    def __init__(self, dim, heads, sr, dpr):
        super().__init__()
        self.heads, self.sr_ratio, self.dpr = heads, sr, dpr
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        if sr > 1:
            self.sr = nn.Conv2d(dim, dim, sr, sr)
            self.norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.dw = nn.Conv2d(4 * dim, 4 * dim, 3, 1, 1, groups=4 * dim)

    def drop_path(self, y):
        if not self.training or self.dpr == 0:
            return y
        keep = 1 - self.dpr
        return y / keep * (keep + torch.rand(y.shape[0], 1, 1, dtype=y.dtype)).floor_()

    def attn(self, x, h, w):
        b, n, c = x.shape
        d = c // self.heads
        q = self.q(x).reshape(b, n, self.heads, d).permute(0, 2, 1, 3)
        src = x
        if self.sr_ratio > 1:
            src = self.sr(x.transpose(1, 2).reshape(b, c, h, w)).reshape(b, c, -1).transpose(1, 2)
            src = self.norm(src)
        kv = self.kv(src).reshape(b, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        a = (q @ kv[0].transpose(-2, -1)) * d ** -0.5
        y = (a.softmax(-1) @ kv[1]).transpose(1, 2).reshape(b, n, c)
        return self.proj(y)

    def mlp(self, x, h, w):
        y = self.fc1(x)
        b, n, c = y.shape
        y = self.dw(y.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(y))

    def forward(self, x, h, w):
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


class MiT(nn.Module):
    def __init__(self, variant, drop_path_rate=0.1):
        super().__init__()
        dims = (32, 64, 160, 256) if variant == 0 else (64, 128, 320, 512)
        depths = DEPTHS[variant]
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.dims = dims
        self.embeds = nn.ModuleList([Embed(3 if i == 0 else dims[i - 1], dims[i], 7 if i == 0 else 3,
                                           4 if i == 0 else 2) for i in range(4)])
        self.blocks = nn.ModuleList()
        cur = 0
        for i in range(4):
            self.blocks.append(nn.ModuleList([Block(dims[i], HEADS[i], SR[i], dpr[cur + j]) for j in range(depths[i])]))
            cur += depths[i]
        self.norms = nn.ModuleList([nn.LayerNorm(d, eps=1e-6) for d in dims])

    def forward(self, x):
        outs = []
        for emb, blocks, norm in zip(self.embeds, self.blocks, self.norms):
            x, h, w = emb(x)
            for blk in blocks:
                x = blk(x, h, w)
            x = norm(x).reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
        return outs


def cbr(cin, cout, k, pad=0, dil=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, pad, dil, groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class DAFormerHead(nn.Module):  # mlp embeddings, sep-ASPP fusion (1, 6, 12, 18), 3x3 bottleneck
    def __init__(self, in_dims, ch=256, emb=256, classes=19):
        super().__init__()
        self.embeds = nn.ModuleList([nn.Linear(d, emb) for d in in_dims])
        cin = emb * len(in_dims)
        self.branches = nn.ModuleList([cbr(cin, ch, 1)] + [
            nn.Sequential(cbr(cin, cin, 3, d, d, cin), cbr(cin, ch, 1)) for d in (6, 12, 18)])
        self.bottleneck = cbr(4 * ch, ch, 3, 1)
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(ch, classes, 1)

    def forward(self, feats):
        size = feats[0].shape[2:]
        levels = []
        for f, e in zip(feats, self.embeds):
            y = e(f.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(f.shape[0], -1, f.shape[2], f.shape[3])
            if y.shape[2:] != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            levels.append(y)
        x = torch.cat(levels, 1)
        x = self.bottleneck(torch.cat([b(x) for b in self.branches], 1))
        return self.conv_seg(self.dropout(x))


class Segmentor(nn.Module):
    def __init__(self, variant):
        super().__init__()
        self.backbone = MiT(variant)
        self.decode_head = DAFormerHead(self.backbone.dims)

    def forward(self, x):
        return self.decode_head(self.backbone(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backbone", default="mit_b5")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = Segmentor(int(a.backbone[-1])).to(a.device)
    x = torch.randn(a.batch, 3, a.size, a.size, device=a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    for mode in ("forward", "forward_backward"):
        bwd = mode == "forward_backward"
        net.train(bwd)
        total = 0.0
        for it in range(a.warmup + a.iters):
            sync()
            t0 = time.perf_counter()
            if bwd:
                net(x).mean().backward()
            else:
                with torch.no_grad():
                    net(x)
            sync()
            if it >= a.warmup:
                total += time.perf_counter() - t0
        net.zero_grad()
        print(json.dumps({"impl": "python", "mode": mode, "backbone": a.backbone, "size": a.size, "batch": a.batch,
                          "threads": a.threads, "device": a.device, "torch": torch.__version__,
                          "seconds": total / a.iters}), flush=True)


if __name__ == "__main__":
    main()
