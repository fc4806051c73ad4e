#!/usr/bin/python3
"""The Python peer of bench/data_loader_bench.cpp: mmseg's training pipeline
for DAFormer's GTA source (uda_gta_to_cityscapes_512x512.py: LoadImageFromFile,
LoadAnnotations, Resize to (1280, 720) [a no-op on 1280x720 inputs],
RandomCrop 512x512 with cat_max_ratio 0.75, RandomFlip 0.5, Normalize, Pad,
DefaultFormatBundle's HWC->CHW) written with numpy the way mmseg/mmcv do it,
reading either PNG files (PIL decode, as a raw GTA/Cityscapes tree) or the
same raw HDF5 shard as the C++ loader (h5py).

  data_python_peer.py --export DIR       PNGs from DIR/shard-00000.h5 into DIR/png/
  data_python_peer.py --run DIR --source png|h5py --procs P --images N
prints one JSON line per run. P worker processes (mmseg's DataLoader workers)
share N images; P = 1 runs in-process.
"""
import argparse
import json
import multiprocessing as mp
import os
import time

import h5py
import numpy as np
from PIL import Image

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
CROP = (512, 512)
CAT_MAX_RATIO = 0.75
IGNORE = 255


def export_png(d):
    os.makedirs(os.path.join(d, "png"), exist_ok=True)
    with h5py.File(os.path.join(d, "shard-00000.h5"), "r") as f:
        for k in f["images"].keys():
            Image.fromarray(f["images"][k][()]).save(os.path.join(d, "png", k + ".png"))
            Image.fromarray(f["labels"][k][()][:, :, 0]).save(os.path.join(d, "png", k + "_label.png"))


def crop_bbox(img, rng):
    # mmseg RandomCrop.get_crop_bbox
    margin_h = max(img.shape[0] - CROP[0], 0)
    margin_w = max(img.shape[1] - CROP[1], 0)
    oh = rng.randint(0, margin_h + 1)
    ow = rng.randint(0, margin_w + 1)
    return oh, oh + CROP[0], ow, ow + CROP[1]


def pipeline(img, seg, rng):
    # RandomCrop with cat_max_ratio (mmseg): up to 10 re-draws.
    box = crop_bbox(img, rng)
    for _ in range(10):
        seg_temp = seg[box[0]:box[1], box[2]:box[3]]
        labels, cnt = np.unique(seg_temp, return_counts=True)
        cnt = cnt[labels != IGNORE]
        if len(cnt) > 1 and np.max(cnt) / np.sum(cnt) < CAT_MAX_RATIO:
            break
        box = crop_bbox(img, rng)
    img = img[box[0]:box[1], box[2]:box[3], ...]
    seg = seg[box[0]:box[1], box[2]:box[3]]
    # RandomFlip(prob=0.5), mmcv.imflip -> np.flip
    if rng.rand() < 0.5:
        img = np.flip(img, axis=1)
        seg = np.flip(seg, axis=1)
    # Normalize (mmcv.imnormalize: float32, subtract mean, multiply 1/std)
    img = img.astype(np.float32)
    img = (img - MEAN) * (1.0 / STD)
    # Pad to the crop size (no-op for full crops), then DefaultFormatBundle.
    pad_h, pad_w = CROP[0] - img.shape[0], CROP[1] - img.shape[1]
    if pad_h > 0 or pad_w > 0:
        img = np.pad(img, ((0, pad_h), (0, pad_w), (0, 0)))
        seg = np.pad(seg, ((0, pad_h), (0, pad_w)), constant_values=IGNORE)
    img = np.ascontiguousarray(img.transpose(2, 0, 1))
    seg = np.ascontiguousarray(seg)
    return img, seg


def work(args):
    d, source, indices, seed = args
    rng = np.random.RandomState(seed)
    f = h5py.File(os.path.join(d, "shard-00000.h5"), "r") if source == "h5py" else None
    checksum = 0.0
    for i in indices:
        if source == "png":
            img = np.asarray(Image.open(os.path.join(d, "png", f"{i}.png")).convert("RGB"))
            seg = np.asarray(Image.open(os.path.join(d, "png", f"{i}_label.png")))
        else:
            img = f["images"][str(i)][()]
            seg = f["labels"][str(i)][()][:, :, 0]
        out, lab = pipeline(img, seg, rng)
        checksum += float(out[0, 0, 0]) + int(lab[0, 0])
    return checksum


def run(d, source, procs, n):
    count = len([k for k in os.listdir(os.path.join(d, "png")) if not k.endswith("_label.png")]) \
        if source == "png" else len(h5py.File(os.path.join(d, "shard-00000.h5"), "r")["images"])
    order = [i % count for i in range(n)]
    chunks = [(d, source, order[p::procs], p) for p in range(procs)]
    work((d, source, order[:2], 99))  # warm-up: imports, page cache
    t0 = time.perf_counter()
    if procs == 1:
        work(chunks[0])
    else:
        with mp.Pool(procs) as pool:
            pool.map(work, chunks)
    dt = time.perf_counter() - t0
    print(json.dumps({"impl": "python_" + source, "threads": procs, "images": n, "seconds": round(dt, 4),
                      "images_per_s": round(n / dt, 2), "images_per_s_per_core": round(n / dt / procs, 2)}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--export")
    ap.add_argument("--run")
    ap.add_argument("--source", default="png", choices=["png", "h5py"])
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--images", type=int, default=40)
    a = ap.parse_args()
    if a.export:
        export_png(a.export)
    if a.run:
        run(a.run, a.source, a.procs, a.images)
