#!/usr/bin/env bash
# One algorithm (ALGORITHM: erm, dann, cdann, coral, mmd, mldg; default erm)
# on RotatedFMNIST or ColoredFMNIST, uda and DomainBed side by side on the
# same data and splits: DomainBed's default hyper-parameters (draw 0: MNIST_CNN,
# Adam lr 1e-3, 64 per domain, the algorithm's own defaults), the same number
# of steps, every test domain, N trials each, each job seeded as DomainBed's
# sweep seeds it; training-domain validation. uda runs `uda sweep` (protocol domainbed) and `uda collect`;
# DomainBed runs its own train.py through bench/domainbed_peer.py, reading the
# environments uda converted (--uda_data), and its own collect_results.
# Prints both tables. One thread per job; the two tools run concurrently.
#
#   bench/dg_side_by_side.sh DOMAINBED_CHECKOUT [BUILD] [OUT]
#   STEPS=200 FREQ=100 TRIALS=3 DATASET=rotated PAR=1 bench/dg_side_by_side.sh /path/DomainBed
#   ALGORITHM=coral STEPS=100 FREQ=100 PAR=2 bench/dg_side_by_side.sh /path/DomainBed build sbs-coral
# PAR: DomainBed jobs at a time (uda's sweep runs beside them, one job at a time).
set -euo pipefail
DB=${1:?usage: dg_side_by_side.sh DOMAINBED_CHECKOUT [BUILD] [OUT]}
BUILD=$(cd "${2:-build}" && pwd)
OUT=${3:-dg-side-by-side}
STEPS=${STEPS:-200}
FREQ=${FREQ:-100}
TRIALS=${TRIALS:-3}
DATASET=${DATASET:-rotated}
ALGORITHM=${ALGORITHM:-erm}
case "$ALGORITHM" in  # DomainBed's names (algorithms.py)
  erm) DB_ALGORITHM=ERM ;; dann) DB_ALGORITHM=DANN ;; cdann) DB_ALGORITHM=CDANN ;;
  coral) DB_ALGORITHM=CORAL ;; mmd) DB_ALGORITHM=MMD ;; mldg) DB_ALGORITHM=MLDG ;;
  *) echo "ALGORITHM must be erm, dann, cdann, coral, mmd or mldg" >&2; exit 2 ;;
esac
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT/domainbed"
OUT=$(cd "$OUT" && pwd)
case "$DATASET" in
  rotated) NAME=RotatedFMNIST; ENVS=6; CFG=rotated_fmnist ;;
  colored) NAME=ColoredFMNIST; ENVS=3; CFG=colored_fmnist ;;
  *) echo "DATASET must be rotated or colored" >&2; exit 2 ;;
esac
DATA="$OUT/data/${DATASET}_fmnist"
[ -f "$DATA/manifest.json" ] ||
  "$BUILD/uda" convert --format idx --domains "$DATASET" --src /usr/share/datasets/fashion-mnist --out "$DATA" --quiet

cat > "$OUT/sweep.json" <<JSON
{"name": "uda", "protocol": "domainbed",
 "datasets": {"$NAME": {"config": "$HERE/configs/dg/$CFG.json", "small_images": true}},
 "algorithms": ["$ALGORITHM"], "test_domains": "single", "n_hparams": 1, "n_trials": $TRIALS,
 "set": {"data.source.path": "$DATA", "train.max_iters": $STEPS, "train.eval_interval": $FREQ,
         "train.checkpoint_interval": 0, "runtime.intra_op_threads": 1},
 "nproc": 1, "executor": "local", "max_parallel": 1}
JSON

(
  cd "$OUT"
  OMP_NUM_THREADS=1 "$BUILD/uda" --log-level warn sweep sweep.json --work-dir "$OUT/uda" --no-calibration > uda-sweep.log 2>&1
) &
uda_pid=$!

# DomainBed's jobs, PAR at a time (default 1: one core for each tool).
db_job() {
  local trial=$1 env=$2 dir="$OUT/domainbed/$NAME-t$1-e$2"
  [ -f "$dir/done" ] && return 0
  OMP_NUM_THREADS=1 /usr/bin/python3 "$HERE/bench/domainbed_peer.py" --domainbed "$DB" --algorithm "$DB_ALGORITHM" \
    --dataset "$NAME" --uda_data "$DATA" --test_envs "$env" --trial_seed "$trial" --hparams_seed 0 --sweep_seed \
    --steps "$STEPS" --checkpoint_freq "$FREQ" --output_dir "$dir" --threads 1 > "$dir.log" 2>&1
}
export -f db_job
export OUT NAME HERE DB DATA STEPS FREQ DB_ALGORITHM
for trial in $(seq 0 $((TRIALS - 1))); do
  for env in $(seq 0 $((ENVS - 1))); do echo "$trial $env"; done
done | xargs -P "${PAR:-1}" -L 1 bash -c 'db_job "$0" "$1"'
wait "$uda_pid"

echo "## uda (uda collect --selection training_domain)"
"$BUILD/uda" collect "$OUT/uda" --selection training_domain --format md
echo
echo "## DomainBed (collect_results, training-domain validation)"
/usr/bin/python3 "$HERE/bench/domainbed_peer.py" --domainbed "$DB" --collect "$OUT/domainbed"
echo
echo "## Agreement per test domain (bench/dg_agreement.py)"
"$BUILD/uda" collect "$OUT/uda" --selection training_domain --format json > "$OUT/uda-collect.json"
/usr/bin/python3 "$HERE/bench/dg_agreement.py" "$OUT/uda-collect.json" "$OUT/domainbed"
