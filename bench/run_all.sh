#!/usr/bin/env bash
# `make bench`: every benchmark that needs nothing beside the checkout, each
# side by side with its peer or physical limit in one run (docs/BENCHMARKS.md
# says which table each fills). Benchmarks against DomainBed need its
# checkout: bench/dg_bench.sh and bench/dg_side_by_side.sh DOMAINBED_DIR.
#
#   bench/run_all.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
echo "## Checkpoints"; bash "$HERE/ckpt_bench.sh" "$BUILD"
echo "## Data pipeline"; bash "$HERE/data_bench.sh" "$BUILD"
echo "## Models"; bash "$HERE/model_bench.sh" "$BUILD"
echo "## Data-parallel runtime"; bash "$HERE/dp_bench.sh" "$BUILD"
if [ -x build-torch2/model_bench ]; then
  echo "## libtorch 1.13 vs 2.x"; bash "$HERE/torch_versions_bench.sh" "$BUILD" build-torch2
fi
