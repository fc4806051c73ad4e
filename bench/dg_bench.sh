#!/usr/bin/env bash
# Speed of the DG track against DomainBed, measured in one run
# (docs/BENCHMARKS.md, "Domain generalization"): ERM on RotatedFMNIST with
# DomainBed's defaults (MNIST_CNN, 64 images per domain and step, 5 training
# domains), the same 300-step run with two evaluations of every in/out split
# (70,000 images) for
#   uda, 1 rank, 1 intra-op thread
#   uda, 2 ranks x 1 thread (32 per domain and rank: the same global batch)
#   DomainBed's train.py (bench/domainbed_peer.py), 1 thread
# one after the other on the same data and splits; prints a Markdown table of
# step time, evaluation time, wall time of the whole run and peak memory, with
# the ratios the aims are stated in.
#
#   bench/dg_bench.sh DOMAINBED_CHECKOUT [BUILD] [OUT]
set -euo pipefail
DB=${1:?usage: dg_bench.sh DOMAINBED_CHECKOUT [BUILD] [OUT]}
BUILD=$(cd "${2:-build}" && pwd)
OUT=${3:-dg-bench}
STEPS=${STEPS:-300}
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DATA="$OUT/data/rotated_fmnist"
[ -f "$DATA/manifest.json" ] ||
  "$BUILD/uda" convert --format idx --domains rotated --src /usr/share/datasets/fashion-mnist --out "$DATA" --quiet

uda_run() {  # name nproc batch_per_rank
  rm -rf "$OUT/$1"
  local t0=$(date +%s.%N)
  OMP_NUM_THREADS=1 "$BUILD/uda" --log-level warn train "$HERE/configs/dg/rotated_fmnist.json" --nproc "$2" \
    --work-dir "$OUT/$1" --set "data.source.path=$DATA" --set "data.batch_per_rank=$3" \
    --set "train.max_iters=$STEPS" --set "train.eval_interval=$((STEPS / 2))" --set train.checkpoint_interval=0 \
    --set runtime.intra_op_threads=1 > "$OUT/$1.log" 2>&1
  local t1=$(date +%s.%N)
  /usr/bin/python3 - "$OUT/$1" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
run, wall = sys.argv[1], float(sys.argv[2])
m = [json.loads(l) for l in open(run + "/metrics.jsonl")]
e = [json.loads(l) for l in open(run + "/eval.jsonl")]
steps = [r["step_time"] for r in m[1:]]  # the first logged window includes warm-up
print(json.dumps({"step": sum(steps) / len(steps), "eval": sum(r["eval_seconds"] for r in e) / len(e),
                  "wall": wall, "rss_mb": max(r["max_rss_mb"] for r in m),
                  "test_acc": e[-1]["test_domain_acc"]}))
PY
}

u1=$(uda_run uda-1rank 1 64)
u2=$(uda_run uda-2ranks 2 32)
rm -rf "$OUT/domainbed"
t0=$(date +%s.%N)
/usr/bin/time -v -o "$OUT/domainbed.time" env OMP_NUM_THREADS=1 /usr/bin/python3 "$HERE/bench/domainbed_peer.py" \
  --domainbed "$DB" --algorithm ERM --dataset RotatedFMNIST --uda_data "$DATA" --test_envs 0 --trial_seed 0 \
  --hparams_seed 0 --steps "$STEPS" --checkpoint_freq "$STEPS" --threads 1 --output_dir "$OUT/domainbed" \
  > "$OUT/domainbed.log" 2>&1
t1=$(date +%s.%N)
db=$(/usr/bin/python3 - "$OUT" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, re, sys
out, wall = sys.argv[1], float(sys.argv[2])
t = json.load(open(out + "/domainbed/peer_timing.json"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(out + "/domainbed.time").read()).group(1))
recs = [json.loads(l) for l in open(out + "/domainbed/results.jsonl")]
print(json.dumps({"step": t["mean_step_s_excl_first"], "eval": t["mean_eval_s"], "wall": wall, "rss_mb": rss / 1024,
                  "test_acc": recs[-1]["env0_in_acc"]}))
PY
)
# The physical limit on this core: single-precision matrix multiply (2048^2,
# libtorch's BLAS, one thread). Both tools spend their time in the same
# convolution kernels, so the rate they reach against this bounds any ratio.
peak=$(OMP_NUM_THREADS=1 /usr/bin/python3 - <<'PY'
import time, torch
torch.set_num_threads(1)
a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
a @ b
best = 1e9
for _ in range(5):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print(2 * 2048 ** 3 / best / 1e9)
PY
)
/usr/bin/python3 - "$u1" "$u2" "$db" "$STEPS" "$peak" <<'PY'
import json, sys
u1, u2, db = (json.loads(a) for a in sys.argv[1:4])
steps, peak = sys.argv[4], float(sys.argv[5])
# MNIST_CNN multiply-adds per 28x28 image, forward: conv 1->64 (28x28), 64->128
# stride 2 (14x14), 128->128 twice (14x14), fc 128->10; a training step is
# forward + backward ~ 3x forward over 5 x 64 images.
fwd = 28 * 28 * 64 * 9 + 14 * 14 * 128 * 64 * 9 + 2 * 14 * 14 * 128 * 128 * 9 + 128 * 10
step_gflop, eval_gflop = 2 * 3 * fwd * 320 / 1e9, 2 * fwd * 70000 / 1e9
print(f"ERM, RotatedFMNIST (test domain 0), {steps} steps of 5 x 64 images, two evaluations of 70,000 images.\n")
print("| | step (s) | evaluation (s) | whole run (s) | peak RSS (MB) | test acc |")
print("|---|---|---|---|---|---|")
for name, r in (("uda, 1 rank x 1 thread", u1), ("uda, 2 ranks x 1 thread", u2), ("DomainBed, 1 thread", db)):
    print(f"| {name} | {r['step']:.3f} | {r['eval']:.1f} | {r['wall']:.0f} | {r['rss_mb']:.0f} | {100 * r['test_acc']:.1f} |")
print()
print(f"- step, uda 1 thread / DomainBed: {u1['step'] / db['step']:.2f} (aim <= 0.5)")
print(f"- 2 ranks vs 1 rank throughput: {u1['step'] / u2['step']:.2f}x (aim >= 1.8)")
print(f"- evaluation, DomainBed / uda 1 rank: {db['eval'] / u1['eval']:.2f}x, 2 ranks: {db['eval'] / u2['eval']:.2f}x (aim >= 5)")
print(f"- whole run, uda 1 rank / DomainBed: {u1['wall'] / db['wall']:.2f}, 2 ranks: {u2['wall'] / db['wall']:.2f} (aim <= 0.3)")
print()
print(f"Physical limit: sgemm 2048^2 on one thread {peak:.0f} GFLOP/s; a step is {step_gflop:.1f} GFLOP, "
      f"an evaluation {eval_gflop / 1e3:.2f} TFLOP.\n")
print("| | step GFLOP/s | % of sgemm | evaluation GFLOP/s | % of sgemm |")
print("|---|---|---|---|---|")
for name, r in (("uda, 1 rank x 1 thread", u1), ("DomainBed, 1 thread", db)):
    s, e = step_gflop / r["step"], eval_gflop / r["eval"]
    print(f"| {name} | {s:.0f} | {100 * s / peak:.0f} | {e:.0f} | {100 * e / peak:.0f} |")
print()
print(f"- a step at 0.5x DomainBed's time would need {2 * step_gflop / db['step']:.0f} GFLOP/s, "
      f"an evaluation 5x faster {5 * eval_gflop / db['eval']:.0f} GFLOP/s on one thread (sgemm: {peak:.0f})")
PY
