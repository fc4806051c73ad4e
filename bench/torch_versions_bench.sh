#!/usr/bin/env bash
# The model benchmark (MiT-B5 + DAFormer head, forward and forward+backward)
# built against Debian's libtorch 1.13 and against PyPI's torch 2.x, side by
# side in one run on the CPU; prints a Markdown table with the ratio
# 1.13 / 2.x (> 1 = the 2.x build faster). For docs/BENCHMARKS.md.
#
#   bench/torch_versions_bench.sh [BUILD_1_13] [BUILD_2X] [CASES...]
#   CASE = backbone:size:batch:threads:iters   (default: the documented set)
set -euo pipefail
OLD=${1:-build}
NEW=${2:-build-torch2}
shift 2 || true
CASES=("$@")
if [ ${#CASES[@]} -eq 0 ]; then
  CASES=(mit_b5:128:1:1:5 mit_b5:128:1:2:5 mit_b5:256:1:1:3 mit_b5:256:1:2:3)
fi
for b in "$OLD" "$NEW"; do
  [ -x "$b/model_bench" ] || { echo "torch_versions_bench.sh: $b/model_bench not built" >&2; exit 2; }
done
version() { "$1/uda" --version | sed -n 's/^libtorch \([^,]*\).*/\1/p'; }
echo "libtorch $(version "$OLD") ($OLD) vs $(version "$NEW") ($NEW)"
echo
echo "| backbone | input | threads | mode | $(version "$OLD") (s) | $(version "$NEW") (s) | ratio |"
echo "|---|---|---|---|---|---|---|"
seconds() { grep "\"$2\"" <<<"$1" | sed 's/.*"seconds": \([0-9.e-]*\).*/\1/'; }
for c in "${CASES[@]}"; do
  IFS=: read -r bb size batch threads iters <<<"$c"
  args=(--backbone "$bb" --size "$size" --batch "$batch" --threads "$threads" --iters "$iters" --warmup 1 --device cpu)
  # Alternate the two builds so that machine load affects both alike.
  a=$(OMP_NUM_THREADS=$threads "$OLD/model_bench" "${args[@]}")
  b=$(OMP_NUM_THREADS=$threads "$NEW/model_bench" "${args[@]}")
  for mode in forward forward_backward; do
    x=$(seconds "$a" "$mode"); y=$(seconds "$b" "$mode")
    printf "| %s | %sx%sx%s | %s | %s | %.3f | %.3f | %s |\n" "$bb" "$batch" "$size" "$size" "$threads" "$mode" \
      "$x" "$y" "$(awk -v a="$x" -v b="$y" 'BEGIN { printf "%.2f", a / b }')"
  done
done
