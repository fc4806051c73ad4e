#!/usr/bin/env bash
# The GPU check of docs/GPU.md: on a machine with an NVIDIA GPU, PyTorch (with
# its bundled CUDA libtorch) and NCCL, build uda against that libtorch, run
# the test suite, then on one GPU:
#   1. short toy trainings with runtime.device=cuda — the NCCL backend with one
#      rank, the pinned-memory loader path — in fp32 and bf16 autocast, each
#      resumed once from its checkpoint to compare with an uninterrupted run;
#   2. the throughput of a DAFormer-size model (MiT-B5 + DAFormer head,
#      512x512, batch 2), fp32 and bf16, forward+backward (bench/model_bench).
# Everything lands in OUT (default gpu-check/); summary.md is what goes into
# docs/BENCHMARKS.md. Needs the build dependencies of scripts/install-deps.sh.
#
#   scripts/gpu_check.sh [PYTHON]      # PYTHON: the interpreter whose torch to use
#
# The build is the project's modern configuration (`make build TORCH=pypi`,
# docs/TESTING.md), the one CI builds and tests on every change: its
# environment is made on top of PYTHON's installed torch, nothing is
# downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
OUT=${OUT:-gpu-check}
BUILD=${BUILD:-build-gpu}
ITERS=${ITERS:-200}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { echo "== $*" | tee -a "$OUT/summary.md"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$OUT/gpu.txt"
version=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')

log "configure and build (make build TORCH=pypi) against the torch $version of $PY"
UDA_TORCH2_PYTHON="$PY" UDA_TORCH2_VERSION="$version" UDA_TORCH2_VENV="$OUT/torch-env" \
  make --no-print-directory build TORCH=pypi BUILD_DIR="$BUILD" 2>&1 | tail -n 5
grep -q "UDA_HAVE_NCCL 1" "$BUILD/generated/uda/build_info.h" || { echo "gpu_check: the NCCL backend was not enabled" >&2; exit 1; }
"$BUILD/uda" --version | tee -a "$OUT/gpu.txt"

log "test suite (CPU tests, built against the CUDA libtorch)"
(cd "$BUILD" && ctest -j "$(nproc)" --timeout 900 2>&1 | tail -n 5) | tee -a "$OUT/summary.md"

log "toy trainings on one GPU"
"$BUILD/uda" convert --format toyscenes --out "$OUT/toyscenes" --seed 0
paths=(--set "data.source.path=$OUT/toyscenes/source" --set "data.target.path=$OUT/toyscenes/target"
       --set "data.val.path=$OUT/toyscenes/target_val")
for precision in fp32 bf16; do
  common=(configs/toyscenes/daformer.json "${paths[@]}" --set runtime.device=cuda --set "runtime.precision=$precision"
          --set "train.max_iters=$ITERS" --set "train.eval_interval=$ITERS" --nproc 1)
  whole="$OUT/runs/daformer-$precision"
  "$BUILD/uda" train "${common[@]}" --set "train.checkpoint_interval=$((ITERS / 2))" --work-dir "$whole"
  grep -q "cuda" "$whole/logs/rank-0.log" || { echo "gpu_check: $whole did not run on cuda" >&2; exit 1; }
  grep -q "nccl backend" "$whole/logs/rank-0.log" || { echo "gpu_check: $whole did not use NCCL" >&2; exit 1; }
  # Resume: kill after the half-way checkpoint, continue, compare final evaluations.
  split="$OUT/runs/daformer-$precision-resumed"
  UDA_FAULT_KILL_AFTER_ITER=$((ITERS / 2)) "$BUILD/uda" train "${common[@]}" \
    --set "train.checkpoint_interval=$((ITERS / 2))" --work-dir "$split" || true
  "$BUILD/uda" train "${common[@]}" --set "train.checkpoint_interval=$((ITERS / 2))" --work-dir "$split" --resume auto
  "$PY" - "$whole" "$split" "$precision" <<'PY' | tee -a "$OUT/summary.md"
import json, sys
a = json.load(open(sys.argv[1] + "/final_eval.json"))
b = json.load(open(sys.argv[2] + "/final_eval.json"))
steps = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
print(f"- {sys.argv[3]}: mIoU {100 * a['miou']:.2f} (resumed run: {100 * b['miou']:.2f}), "
      f"step {steps[-1].get('step_time', float('nan')):.3f} s, host RSS {steps[-1].get('max_rss_mb', float('nan')):.0f} MB")
PY
done

log "DAFormer-size throughput (MiT-B5 + DAFormer head, 512x512, batch 2)"
for extra in "" "--bf16" "--bf16 --channels-last"; do
  # shellcheck disable=SC2086
  "$BUILD/model_bench" --backbone mit_b5 --size 512 --batch 2 --iters 20 --warmup 3 --device cuda $extra \
    | tee -a "$OUT/model_bench.jsonl"
done
"$PY" - "$OUT/model_bench.jsonl" <<'PY' | tee -a "$OUT/summary.md"
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        d = json.loads(line)
        print("- " + ", ".join(f"{k} {v}" for k, v in d.items()))
PY
echo "gpu_check: done; see $OUT/summary.md"
