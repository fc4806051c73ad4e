#!/usr/bin/env bash
# Data-parallel benchmarks side by side in one run (docs/BENCHMARKS.md,
# "Data-parallel runtime"): all-reduce bus bandwidth vs memcpy, and step time
# of 1 vs 2 ranks for uda and PyTorch DDP (gloo), 1 intra-op thread each.
# Usage: bench/dp_bench.sh [BUILD_DIR] [BACKBONE] [SIZE] [BATCH] [ITERS]
set -euo pipefail
build=${1:-build}; backbone=${2:-mit_b0}; size=${3:-128}; batch=${4:-2}; iters=${5:-5}
here=$(cd "$(dirname "$0")" && pwd)
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none)
export OMP_NUM_THREADS=1
"${mpi[@]}" -np 2 "$build/dp_step_bench" allreduce
for n in 1 2; do
  "${mpi[@]}" -np $n "$build/dp_step_bench" step "$backbone" "$size" "$batch" "$iters"
  "${mpi[@]}" -np $n /usr/bin/python3 "$here/ddp_peer.py" "$backbone" "$size" "$batch" "$iters"
done
