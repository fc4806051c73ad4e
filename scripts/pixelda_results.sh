#!/bin/sh
# PixelDA's CPU-budget results (docs/RESULTS.md, "PixelDA on Fashion-MNIST ->
# FMNIST-M"): source-only, PixelDA and target-only, seeds 0 1 2, in a folder
# holding data/fmnist, data/fmnist_m, data/fmnist_m_test:
#   uda convert --format idx --domains none   --src /usr/share/datasets/fashion-mnist --out data/fmnist --count 10000
#   uda convert --format idx --domains mnistm --src /usr/share/datasets/fashion-mnist --out data/fmnist_m --count 10000
#   uda convert --format idx --domains mnistm --split t10k --src /usr/share/datasets/fashion-mnist --out data/fmnist_m_test --count 2000
# Usage: [METHODS="pixelda source_only target_only"] ITERS=400 UDA=build/uda CONFIGS=configs/gan sh scripts/pixelda_results.sh OUT_DIR
# The reduced networks (SMALL) fit the budget of a shared 2-core machine;
# unset SMALL= to run the official sizes.
set -eu
OUT=${1:?output folder}
UDA=${UDA:-uda}
CONFIGS=${CONFIGS:-configs/gan}
ITERS=${ITERS:-400}
SMALL=${SMALL-"--set algorithm.resnet_filters=16 --set algorithm.resnet_blocks=2 --set algorithm.num_discriminator_filters=16"}
for seed in 0 1 2; do
  for method in ${METHODS:-pixelda source_only target_only}; do
    run="$OUT/$method-seed$seed"
    [ -f "$run/final_eval.json" ] && continue
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 "$UDA" --log-level warn train "$CONFIGS/fmnist2fmnistm_$method.json" --nproc 1 \
      --work-dir "$run" --set train.seed=$seed --set train.max_iters=$ITERS \
      --set train.eval_interval=$((ITERS / 4)) --set train.checkpoint_interval=$((ITERS / 2)) \
      --set runtime.intra_op_threads=1 $SMALL
  done
done
