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
# The uda programs keep freed multi-megabyte blocks in malloc's heap
# (data/pipeline/malloc_tuning.h); the Python peer gets the same setting so
# that the comparison is of the runtimes, not of page faults.
peer_malloc=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912
"${mpi[@]}" -np 2 "$build/dp_step_bench" allreduce 64 256 1024
for n in 1 2; do
  "${mpi[@]}" -np $n "$build/dp_step_bench" step "$backbone" "$size" "$batch" "$iters"
  # gloo's teardown hung once after the results were printed: bounded.
  timeout 600 "${mpi[@]}" -np $n -x GLIBC_TUNABLES=$peer_malloc /usr/bin/python3 "$here/ddp_peer.py" \
    "$backbone" "$size" "$batch" "$iters" || echo "ddp_peer.py on $n ranks exited with $?" >&2
done
