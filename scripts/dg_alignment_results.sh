#!/usr/bin/env bash
# The DG tables of docs/RESULTS.md for issue #14: DANN, CDANN, CORAL, MMD
# and MLDG (first and second order) under DomainBed's protocol on
# RotatedFMNIST or ColoredFMNIST, by `uda sweep` (protocol domainbed, draw 0
# = DomainBed's default hyper-parameters, every single test domain) and
# `uda collect --selection training_domain`.
#
#   scripts/dg_alignment_results.sh [BUILD_DIR] [WORK_DIR]
#   DATASET=colored STEPS=100 TRIALS=1 PARALLEL=2 scripts/dg_alignment_results.sh build dg-align
#
# ColoredFMNIST has two training domains per test domain: MLDG then runs
# with n_meta_test 1 (DomainBed's default 2 leaves no meta-train domain).
# The second order takes mldg_inner_lr 0.1. Each sweep has its own
# directory (MLDG's two orders share the algorithm name); re-running skips
# finished runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-dg-alignment}
UDA="$(cd "$BUILD" && pwd)/uda"
DATASET=${DATASET:-rotated}
STEPS=${STEPS:-100}
TRIALS=${TRIALS:-1}
PARALLEL=${PARALLEL:-2}
case "$DATASET" in
  rotated) NAME=RotatedFMNIST; CFG=rotated_fmnist; META_TEST=2 ;;
  colored) NAME=ColoredFMNIST; CFG=colored_fmnist; META_TEST=1 ;;
  *) echo "DATASET must be rotated or colored" >&2; exit 2 ;;
esac
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
DATA="$WORK/data/${DATASET}_fmnist"
[ -f "$DATA/manifest.json" ] ||
  "$UDA" convert --format idx --domains "$DATASET" --src /usr/share/datasets/fashion-mnist --out "$DATA" --quiet

sweep() {  # name algorithms extra-set
  cat >"$WORK/sweep_$1.json" <<JSON
{"name": "$1", "protocol": "domainbed",
 "datasets": {"$NAME": {"config": "$PWD/configs/dg/$CFG.json", "small_images": true}},
 "algorithms": $2, "test_domains": "single", "n_hparams": 1, "n_trials": $TRIALS,
 "set": {"data.source.path": "$DATA", "train.max_iters": $STEPS, "train.eval_interval": $STEPS,
         "train.checkpoint_interval": 0, "runtime.intra_op_threads": 1$3},
 "nproc": 1, "executor": "local", "max_parallel": $PARALLEL}
JSON
  OMP_NUM_THREADS=1 "$UDA" sweep "$WORK/sweep_$1.json" --work-dir "$WORK/$1" --no-calibration
  echo "## $1"
  "$UDA" collect "$WORK/$1" --selection training_domain --format md | tee "$WORK/$1.md"
}
sweep align '["dann", "cdann", "coral", "mmd"]' ''
sweep mldg '["mldg"]' ", \"algorithm.n_meta_test\": $META_TEST"
sweep mldg2 '["mldg"]' ", \"algorithm.n_meta_test\": $META_TEST, \"algorithm.mldg_order\": \"second\", \"algorithm.mldg_inner_lr\": 0.1"
