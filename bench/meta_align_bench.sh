#!/usr/bin/env bash
# Costs of issue #14's methods, measured in one run (docs/BENCHMARKS.md,
# "Alignment and meta-optimization"):
#  1. the exact second-order step against the first-order one, one rank, one
#     intra-op thread: MLDG on RotatedFMNIST (DomainBed's defaults, 5
#     training domains) and MetaAlign on Fashion-MNIST -> FMNIST-M;
#  2. the losses' global-batch collectives on 2 ranks x 1 thread (the global
#     batch of the 1-rank runs): metrics.jsonl's global_batch_time (time
#     inside the gathers and differentiable all-reduces, waiting included)
#     as a share of step_time, for every method that gathers.
# Each run takes STEPS iterations; the first logged window (warm-up) is
# dropped. Prints a Markdown table.
#
#   bench/meta_align_bench.sh [BUILD] [OUT]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
OUT=${2:-meta-align-bench}
STEPS=${STEPS:-40}
HERE=$(cd "$(dirname "$0")/.." && pwd)
FASHION=/usr/share/datasets/fashion-mnist
mkdir -p "$OUT/runs"
OUT=$(cd "$OUT" && pwd)
convert() {  # domains name
  [ -f "$OUT/data/$2/manifest.json" ] ||
    "$BUILD/uda" convert --format idx --domains "$1" --src "$FASHION" --out "$OUT/data/$2" --count 3000 --quiet
}
convert rotated rotated_fmnist
convert none fmnist
convert mnistm fmnist_m

run() {  # name nproc global_batch config [--set ...]
  local name=$1 nproc=$2 batch=$(($3 / $2)) config=$4
  shift 4
  rm -rf "$OUT/runs/$name"
  OMP_NUM_THREADS=1 "$BUILD/uda" --log-level warn train "$HERE/configs/$config" --nproc "$nproc" \
    --work-dir "$OUT/runs/$name" --set "data.batch_per_rank=$batch" --set "train.max_iters=$STEPS" \
    --set "train.log_interval=$((STEPS / 4))" --set train.eval_interval=0 --set train.checkpoint_interval=0 \
    --set runtime.intra_op_threads=1 "$@" >"$OUT/runs/$name.log" 2>&1
}
DG=(--set "data.source.path=$OUT/data/rotated_fmnist")
UDA=(--set "data.source.path=$OUT/data/fmnist" --set "data.target.path=$OUT/data/fmnist_m"
     --set "data.val.path=$OUT/data/fmnist_m")
SECOND_MLDG=(--set algorithm.mldg_order=second --set algorithm.mldg_inner_lr=0.1)
SECOND_MA=(--set algorithm.metaalign_order=second)

# 1. second order against first order, 1 rank.
run mldg-1 1 64 meta/mldg_rotated_fmnist.json "${DG[@]}"
run mldg2-1 1 64 meta/mldg_rotated_fmnist.json "${DG[@]}" "${SECOND_MLDG[@]}"
run metaalign-1 1 32 meta/metaalign_fmnist2fmnistm.json "${UDA[@]}"
run metaalign2-1 1 32 meta/metaalign_fmnist2fmnistm.json "${UDA[@]}" "${SECOND_MA[@]}"
# 2. the global-batch collectives, 2 ranks.
run mmd-2 2 64 align/rotated_fmnist_mmd.json "${DG[@]}"
run coral-2 2 64 align/rotated_fmnist_coral.json "${DG[@]}"
run dann-2 2 64 align/rotated_fmnist_dann.json "${DG[@]}"
run cdann-2 2 64 align/rotated_fmnist_cdann.json "${DG[@]}"
run mldg2-2 2 64 meta/mldg_rotated_fmnist.json "${DG[@]}" "${SECOND_MLDG[@]}"
run dan-2 2 64 align/fmnist2fmnistm_dan.json "${UDA[@]}"
run cwmmd-2 2 64 align/fmnist2fmnistm_cwmmd.json "${UDA[@]}"
run coral_uda-2 2 64 align/fmnist2fmnistm_coral.json "${UDA[@]}"
run dann_grl-2 2 64 align/fmnist2fmnistm_dann_grl.json "${UDA[@]}"
run metaalign2-2 2 32 meta/metaalign_fmnist2fmnistm.json "${UDA[@]}" "${SECOND_MA[@]}"

/usr/bin/python3 - "$OUT/runs" "$(nproc)" <<'PY' | tee "$OUT/table.md"
import json, os, sys
runs, cores = sys.argv[1], sys.argv[2]
def mean(name, key):
    m = [json.loads(l) for l in open(os.path.join(runs, name, "metrics.jsonl"))][1:]
    v = [r[key] for r in m if key in r]
    return sum(v) / len(v) if v else None
print("Second order against first order (1 rank, 1 thread, s/step):\n")
print("| method | first order | second order | ratio (aim <= 2.5) |")
print("|---|---:|---:|---:|")
for label, a, b in [("MLDG, RotatedFMNIST, 5 x 64", "mldg-1", "mldg2-1"),
                    ("MetaAlign, FMNIST -> FMNIST-M, 32 + 32", "metaalign-1", "metaalign2-1")]:
    x, y = mean(a, "step_time"), mean(b, "step_time")
    print(f"| {label} | {x:.3f} | {y:.3f} | {y / x:.2f} |")
print(f"\nGlobal-batch collectives on 2 ranks x 1 thread ({cores} cores; the 1-rank runs' global batch):\n")
print("| method | step (s) | in gathers / all-reduces (s) | share (aim <= 5%) |")
print("|---|---:|---:|---:|")
for name in ["mmd-2", "coral-2", "dann-2", "cdann-2", "mldg2-2", "dan-2", "cwmmd-2", "coral_uda-2", "dann_grl-2",
             "metaalign2-2"]:
    s, g = mean(name, "step_time"), mean(name, "global_batch_time")
    print(f"| {name[:-2]} | {s:.3f} | {g:.4f} | {100 * g / s:.1f}% |")
PY
