#!/usr/bin/env bash
# Stops the test cluster started by start.sh DIR: cancels its jobs, stops
# slurmd, slurmctld and munged by the pids recorded under DIR (never by
# name: other clusters may run on this host), and kills leftover job steps.
set -uo pipefail
DIR=${1:?usage: stop.sh DIR}
[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd)
export SLURM_CONF="$DIR/slurm.conf"

if [ -f "$SLURM_CONF" ] && [ -f "$DIR/run/slurmctld.bgpid" ]; then
  timeout 5 scancel --full --quiet -u "$(id -un)" >/dev/null 2>&1 || true
fi

pids=()
for f in slurmd.bgpid slurmctld.bgpid slurmd.pid slurmctld.pid; do
  [ -f "$DIR/run/$f" ] && pids+=("$(cat "$DIR/run/$f")")
done
# slurmstepd processes (and their job processes) belong to this cluster when
# their command line or environment names our config.
for p in $(pgrep -x slurmstepd 2>/dev/null); do
  if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF"; then
    pids+=("$p")
  fi
done
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
for _ in $(seq 1 50); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.1
done
for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done

if [ -f "$DIR/run/munged.pid" ]; then
  mp=$(cat "$DIR/run/munged.pid")
  kill -TERM "$mp" 2>/dev/null
  for _ in $(seq 1 30); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$mp" 2>/dev/null
fi
rm -f "$DIR"/run/*.pid "$DIR"/run/*.bgpid
exit 0
