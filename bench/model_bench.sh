#!/usr/bin/env bash
# Model benchmark: uda (libtorch C++) vs the same network in Debian's
# python3-torch, side by side in one run; prints a Markdown table with the
# ratio python/uda (> 1 = uda faster). Used for docs/BENCHMARKS.md "Models".
#
#   bench/model_bench.sh [BUILD_DIR] [CASES...]
#   CASE = backbone:size:batch:threads:iters   (default: the documented set)
#   DEVICE=cuda UDA_EXTRA="--bf16 --channels-last" bench/model_bench.sh build   # GPU figures
set -euo pipefail
BUILD=${1:-build}
shift || true
BIN="$BUILD/model_bench"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
DEVICE=${DEVICE:-cpu}
UDA_EXTRA=${UDA_EXTRA:-}   # e.g. "--bf16 --channels-last" (uda only)
CASES=("$@")
if [ ${#CASES[@]} -eq 0 ]; then
  CASES=(mit_b5:128:1:1:5 mit_b5:128:1:2:5 mit_b5:512:1:1:2 mit_b5:512:1:2:2)
fi
[ -x "$BIN" ] || { echo "model_bench.sh: $BIN not built (cmake --build $BUILD --target model_bench)" >&2; exit 2; }

echo "| backbone | input | threads | device | mode | uda (s) | python (s) | python/uda |"
echo "|---|---|---|---|---|---|---|---|"
for c in "${CASES[@]}"; do
  IFS=: read -r bb size batch threads iters <<<"$c"
  args=(--backbone "$bb" --size "$size" --batch "$batch" --threads "$threads" --iters "$iters" --warmup 1 --device "$DEVICE")
  # Alternate the two implementations so that machine load affects both alike.
  u=$(OMP_NUM_THREADS=$threads "$BIN" "${args[@]}" $UDA_EXTRA)
  p=$(OMP_NUM_THREADS=$threads "$PY" "$HERE/model_python_peer.py" "${args[@]}")
  for mode in forward forward_backward; do
    us=$(grep "\"$mode\"" <<<"$u" | sed 's/.*"seconds": \([0-9.e-]*\).*/\1/')
    ps=$(grep "\"$mode\"" <<<"$p" | sed 's/.*"seconds": \([0-9.e-]*\).*/\1/')
    ratio=$(awk -v a="$ps" -v b="$us" 'BEGIN { printf "%.2f", a / b }')
    printf "| %s | %sx%sx%s | %s | %s | %s | %.3f | %.3f | %s |\n" "$bb" "$batch" "$size" "$size" "$threads" \
      "$DEVICE" "$mode" "$us" "$ps" "$ratio"
  done
done
