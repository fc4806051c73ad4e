#!/usr/bin/env bash
# The toy adaptation results of docs/RESULTS.md: source_only, advent, dacs and
# daformer on the toyscenes domain pair, 3 seeds each, 2 ranks per run, run by
# `uda sweep` and summarised by `uda collect` (target mIoU and per-class IoU,
# mean ± sample std over seeds, final evaluation).
#
#   scripts/toy_results.sh [BUILD_DIR] [WORK_DIR]
#   ITERS=300 scripts/toy_results.sh      # shorter runs (the configs say 600)
#
# Re-running skips finished runs (the sweeps' hash-named run directories) and
# resumes interrupted ones from their checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-toy-results}
UDA="$BUILD/uda"
METHODS=${METHODS:-"source_only advent dacs daformer"}
SEEDS=${SEEDS:-"0 1 2"}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

"$UDA" convert --format toyscenes --out "$WORK/toyscenes" --seed 0

# Seed-major order: an interrupted campaign has every method for the seeds
# it finished.
for seed in $SEEDS; do
  for m in $METHODS; do
    iters=""
    [ -n "${ITERS:-}" ] && iters=", \"train.max_iters\": $ITERS"
    cat >"$WORK/sweep_${m}_$seed.json" <<JSON
{ "name": "toy-$m-$seed", "base": "$PWD/configs/toyscenes/$m.json",
  "set": { "data.source.path": "$WORK/toyscenes/source", "data.target.path": "$WORK/toyscenes/target",
           "data.val.path": "$WORK/toyscenes/target_val"$iters },
  "seeds": [$seed], "nproc": 2 }
JSON
    echo "== $m, seed $seed"
    "$UDA" sweep "$WORK/sweep_${m}_$seed.json" --work-dir "$WORK/runs" --max-parallel 1
  done
done

"$UDA" collect "$WORK/runs" --select last --format md | tee "$WORK/miou.md"
# One collect per class (names may contain spaces: "traffic light"), joined
# into a per-class table (mean ± std over seeds, in %).
/usr/bin/python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["classes"]))' \
  "$WORK/toyscenes/source/manifest.json" >"$WORK/classes.txt"
while IFS= read -r c; do
  "$UDA" collect "$WORK/runs" --select last --metric "iou.$c" --format json >"$WORK/iou.$c.json"
done <"$WORK/classes.txt"
"$UDA" collect "$WORK/runs" --select last --format json >"$WORK/miou.json"
/usr/bin/python3 - "$WORK" <<'PY' | tee "$WORK/per_class.md"
import json, sys
work = sys.argv[1]
classes = [l.rstrip("\n") for l in open(f"{work}/classes.txt") if l.strip()]
def rows(path):
    return {g["task"].get("algorithm.name", "?"): g for g in json.load(open(path))}
def cell(g):
    if g is None: return "–"
    s = "" if g.get("std") is None else " ± %.1f" % (100 * g["std"])
    return "%.1f%s" % (100 * g["mean"], s)
miou = rows(f"{work}/miou.json")
per = {c: rows(f"{work}/iou.{c}.json") for c in classes}
present = [c for c in classes if per[c]]
print("| method | n | mIoU | " + " | ".join(present) + " |")
print("|---|---:|---:|" + "---:|" * len(present))
for m in ["source_only", "advent", "dacs", "daformer"]:
    if m not in miou: continue
    print(f"| {m} | {miou[m]['n']} | {cell(miou[m])} | " + " | ".join(cell(per[c].get(m)) for c in present) + " |")
PY
