#!/usr/bin/python3
"""Does prediction entropy on the target domain point at the errors?

ADVENT (Vu et al., CVPR 2019) rests on one observation (its Fig. 1): a
source-trained model is uncertain where it is wrong on the target, so pushing
target entropy down, or making target entropy maps look like source ones,
corrects it. This script measures that premise for trained uda runs on a
uda-format dataset (docs/RESULTS.md uses it on the toy pair):

  scripts/entropy_diagnostic.py UDA_BINARY DATASET_DIR RUN_DIR [RUN_DIR ...]

For each run it predicts the images of DATASET_DIR (the first 200) with `uda infer
--save-logits` and reports pixel accuracy, the mean normalised entropy
(H / log C) of correct and of wrong pixels, the share of wrong pixels
predicted with confidence >= 0.9, and the AUROC of entropy as a detector of
errors (0.5: entropy says nothing about correctness; 1: it separates them).
Needs Debian's python3-numpy, python3-h5py, python3-pil.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from PIL import Image


def load_dataset(path, limit):
    images, labels = [], []
    for shard in sorted(glob.glob(os.path.join(path, "shard-*.h5"))):
        with h5py.File(shard, "r") as f:
            for key in sorted(f["images"].keys(), key=int):
                images.append(np.asarray(f["images"][key]))
                labels.append(np.asarray(f["labels"][key]).reshape(images[-1].shape[:2]))
                if len(images) == limit:
                    return images, labels
    if not images:
        sys.exit(f"entropy_diagnostic: no shard-*.h5 in {path}: give a uda dataset directory")
    return images, labels


def auroc(score, positive):
    """Area under the ROC curve of `score` for detecting `positive` (rank statistic)."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    ranks[order] = np.arange(1, len(score) + 1)
    n_pos = positive.sum()
    n_neg = len(score) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def diagnose(uda, run, images, labels, work):
    png_dir = os.path.join(work, "images")
    os.makedirs(png_dir, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(os.path.join(png_dir, f"{i:05d}.png"))
    out = os.path.join(work, "pred-" + os.path.basename(run.rstrip("/")))
    subprocess.run([uda, "infer", "--config", os.path.join(run, "config.json"), "--weights", run,
                    "--images", png_dir, "--out", out, "--save-logits"], check=True,
                   stdout=subprocess.DEVNULL)
    ent, wrong, conf = [], [], []
    with h5py.File(os.path.join(out, "logits.h5"), "r") as f:
        for i, lab in enumerate(labels):
            logits = np.asarray(f[f"{i:05d}"])[0].astype(np.float64)  # C, H, W
            logits -= logits.max(0, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(0, keepdims=True)
            h = -(p * np.log(np.clip(p, 1e-30, None))).sum(0) / np.log(p.shape[0])
            valid = lab != 255
            ent.append(h[valid])
            wrong.append(p.argmax(0)[valid] != lab[valid])
            conf.append(p.max(0)[valid])
    ent, wrong, conf = np.concatenate(ent), np.concatenate(wrong), np.concatenate(conf)
    with open(os.path.join(run, "config.json")) as f:
        algo = json.load(f).get("algorithm", {}).get("name", "?")
    return {
        "run": os.path.basename(run.rstrip("/")), "algorithm": algo, "images": len(labels),
        "pixel_accuracy": float(1 - wrong.mean()),
        "entropy_correct": float(ent[~wrong].mean()), "entropy_wrong": float(ent[wrong].mean()),
        "wrong_with_confidence_ge_0.9": float((conf[wrong] >= 0.9).mean()),
        "auroc_entropy_detects_errors": auroc(ent, wrong),
    }


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    uda, dataset, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    images, labels = load_dataset(dataset, limit=200)
    with tempfile.TemporaryDirectory() as work:
        for run in runs:
            print(json.dumps(diagnose(uda, run, images, labels, work)), flush=True)


if __name__ == "__main__":
    main()
