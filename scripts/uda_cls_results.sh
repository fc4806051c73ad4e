#!/usr/bin/env bash
# The UDA classification table of docs/RESULTS.md (issue #14): Fashion-MNIST
# -> FMNIST-M with DomainBed's MNIST_CNN, every method on the same base
# (configs/align/_fmnist2fmnistm_.json: SGD 0.01, momentum 0.9, constant
# lr), 3 seeds each, one rank per run, run by `uda sweep` and summarised by
# `uda collect --select last` (target accuracy, mean ± sample std over seeds).
#
#   scripts/uda_cls_results.sh [BUILD_DIR] [WORK_DIR]
#   ITERS=1000 BATCH=32 PARALLEL=2 scripts/uda_cls_results.sh build uda-cls
#
# Methods (METHODS): source_only, dann_grl, dan, mmd, coral, cwmmd,
# metaalign (first order), metaalign2 (second order), target_only. Runs are
# named by their config's hash: re-running skips finished runs and resumes
# interrupted ones. PARALLEL runs at a time (one `uda sweep` per method and
# seed).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-uda-cls-results}
UDA="$(cd "$BUILD" && pwd)/uda"
ITERS=${ITERS:-1000}
BATCH=${BATCH:-32}
PARALLEL=${PARALLEL:-2}
SEEDS=${SEEDS:-"0 1 2"}
METHODS=${METHODS:-"source_only dann_grl dan mmd coral cwmmd metaalign metaalign2 target_only"}
FASHION=${FASHION:-/usr/share/datasets/fashion-mnist}
mkdir -p "$WORK/sweeps"
WORK=$(cd "$WORK" && pwd)

convert() {  # domains split count name
  [ -f "$WORK/data/$4/manifest.json" ] ||
    "$UDA" convert --format idx --domains "$1" --split "$2" --src "$FASHION" --out "$WORK/data/$4" --count "$3" --quiet
}
convert none train 10000 fmnist
convert mnistm train 10000 fmnist_m
convert mnistm t10k 2000 fmnist_m_test

for m in $METHODS; do
  case $m in
    metaalign) config=configs/meta/metaalign_fmnist2fmnistm.json; extra=', "algorithm.metaalign_grl_max_iters": '$ITERS ;;
    metaalign2) config=configs/meta/metaalign_fmnist2fmnistm.json
                extra=', "algorithm.metaalign_grl_max_iters": '$ITERS', "algorithm.metaalign_order": "second"' ;;
    *) config=configs/align/fmnist2fmnistm_$m.json; extra="" ;;
  esac
  source_path="$WORK/data/fmnist"
  [ "$m" = target_only ] && source_path="$WORK/data/fmnist_m"
  target='"'$WORK/data/fmnist_m'"'
  case $m in source_only | target_only) target=null ;; esac
  for seed in $SEEDS; do
    cat >"$WORK/sweeps/${m}_$seed.json" <<JSON
{ "name": "uda-cls-$m-$seed", "base": "$PWD/$config",
  "set": { "data.source.path": "$source_path", "data.target.path": $target,
           "data.val.path": "$WORK/data/fmnist_m_test", "data.batch_per_rank": $BATCH,
           "train.max_iters": $ITERS, "train.eval_interval": $((ITERS / 5)),
           "train.checkpoint_interval": $((ITERS / 2)), "train.log_interval": $((ITERS / 10)),
           "runtime.intra_op_threads": 1$extra },
  "seeds": [$seed], "nproc": 1 }
JSON
    echo "$WORK/sweeps/${m}_$seed.json"
  done
done | xargs -P "$PARALLEL" -I{} sh -c 'OMP_NUM_THREADS=1 "$0" sweep "$1" --work-dir "$2/runs" --max-parallel 1 >"$1.log" 2>&1 || echo "failed: $1 (see $1.log)"' "$UDA" {} "$WORK"

"$UDA" collect "$WORK/runs" --select last --metric accuracy --format md | tee "$WORK/accuracy.md"
"$UDA" collect "$WORK/runs" --select last --metric accuracy --format json >"$WORK/accuracy.json"
