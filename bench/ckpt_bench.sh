#!/usr/bin/env bash
# Runs the checkpoint benchmark and, for comparison, dd's sequential write
# (conv=fsync) and read (after dropping the page cache when permitted) on
# the same file system. Usage: bench/ckpt_bench.sh BUILD_DIR [DIR] [MB]
set -euo pipefail
build=${1:?build dir}; dir=${2:-/tmp/uda-ckpt-bench}; mb=${3:-512}
mkdir -p "$dir"
echo "== dd (same file system: $dir)"
dd if=/dev/zero of="$dir/dd.bin" bs=8M count=$((mb / 8)) conv=fsync 2>&1 | tail -1
if sync && echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; then
  echo "(page cache dropped)"
else
  echo "(cannot drop the page cache: read may come from memory)"
fi
dd if="$dir/dd.bin" of=/dev/null bs=8M iflag=direct 2>&1 | tail -1
rm -f "$dir/dd.bin"
echo "== ckpt_bench"
"$build/ckpt_bench" --dir "$dir" --mb "$mb" "${@:4}"
