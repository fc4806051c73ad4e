#!/bin/bash
# Data pipeline benchmark: the C++ loader vs the mmseg-style Python pipeline
# (PNG + PIL, and h5py on the same shard), 1 and 2 threads/processes, with
# memcpy bandwidth as the physical limit. Prints a markdown table (best of
# REPEATS runs of each, interleaved so that all see the same machine load).
#
#   bench/data_bench.sh BUILD_DIR [REPEATS] [IMAGES]
# BUILD_DIR holds data_loader_bench (cmake --build BUILD_DIR --target data_loader_bench).
set -euo pipefail
BUILD=${1:?usage: data_bench.sh BUILD_DIR [REPEATS] [IMAGES]}
REPEATS=${2:-3}
IMAGES=${3:-48}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3  # Debian's python3 with python3-numpy, python3-pil, python3-h5py
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.jsonl

"$BUILD/data_loader_bench" --write "$WORK" --images "$IMAGES"
"$PY" "$HERE/data_python_peer.py" --export "$WORK"
CPP_STEPS=$(( IMAGES ))        # 2 images per step: every image about twice
PY_IMAGES=$(( IMAGES < 40 ? IMAGES : 40 ))
for r in $(seq "$REPEATS"); do
  "$BUILD/data_loader_bench" --read "$WORK" --steps "$CPP_STEPS" --threads 1,2 >> "$RESULTS"
  for src in png h5py; do
    for p in 1 2; do
      "$PY" "$HERE/data_python_peer.py" --run "$WORK" --source $src --procs $p --images $(( PY_IMAGES * p )) >> "$RESULTS"
    done
  done
done

"$PY" - "$RESULTS" <<'PYEOF'
import json, sys, collections, os, platform
best = collections.OrderedDict()
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = (r["impl"], r["threads"])
    if key not in best or r["images_per_s"] > best[key]["images_per_s"]:
        best[key] = r
names = {"memcpy": "memcpy bandwidth limit (write 3 MiB float crop + 256 KiB label)",
         "cpp_hdf5_raw": "uda C++ loader, raw HDF5 shard",
         "python_h5py": "Python (numpy) mmseg-style, h5py on the same shard",
         "python_png": "Python (numpy) mmseg-style, PNG decode (PIL)"}
py_core = {t: max(best[(k, t)]["images_per_s_per_core"] for k in ("python_png", "python_h5py") if (k, t) in best)
           for t in (1, 2)}
print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
      f"load average at the end {os.getloadavg()[0]:.1f}")
print()
print("| pipeline | threads | images/s | images/s per core | x best Python per core |")
print("|---|---|---|---|---|")
for (impl, t), r in best.items():
    ratio = r["images_per_s_per_core"] / py_core[t] if impl != "memcpy" else float("nan")
    extra = f" ({r['gbytes_per_s']} GB/s)" if impl == "memcpy" else ""
    print(f"| {names.get(impl, impl)}{extra} | {t} | {r['images_per_s']:.1f} | {r['images_per_s_per_core']:.1f} | "
          + ("-" if impl == "memcpy" else f"{ratio:.1f}x") + " |")
PYEOF
