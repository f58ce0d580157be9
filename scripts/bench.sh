#!/usr/bin/env bash
# Runs every benchmark binary in build/bin. With --smoke (CI) each runs for a
# moment only, to prove it still works; without, results are for
# docs/PERFORMANCE.md (median of 5 repetitions).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release; echo "$PRETTY_NAME")"
found=0
for b in "$BIN"/*_bench; do
  [ -x "$b" ] || continue
  found=1
  echo "=== $(basename "$b")"
  # referral_bench also measures Send against its echo in paired slices
  # (bench/paired.h): the number for #6's throughput target.
  pairs=()
  if [ "$(basename "$b")" = referral_bench ]; then
    if [ $smoke = 1 ]; then pairs=(--pairs=1 --cosign_pairs=1 --pair_seconds=0.2); else pairs=(--pairs=16 --cosign_pairs=8); fi
  fi
  # modes_bench: real processes, the all-in-one server against the
  # microservices gateway, in paired slices (not Google Benchmark).
  if [ "$(basename "$b")" = modes_bench ]; then
    BUDSTIKKE_BIN_DIR=$(cd "$BIN" && pwd) BUDSTIKKE_SOURCE_DIR=$PWD
    export BUDSTIKKE_BIN_DIR BUDSTIKKE_SOURCE_DIR
    if [ $smoke = 1 ]; then "$b" --pairs=1 --pair_seconds=0.3 || { echo "bench: modes_bench failed"; exit 1; }
    else "$b" --pairs=8 --pair_seconds=2; fi
    continue
  fi
  # backup_bench: one run of each backup step over 1M records (not Google
  # Benchmark; about 4 minutes and 3.6 GB of temporary disk).
  if [ "$(basename "$b")" = backup_bench ]; then
    if [ $smoke = 1 ]; then "$b" --records 20000 || { echo "bench: backup_bench failed"; exit 1; }
    else "$b"; fi
    continue
  fi
  if [ $smoke = 1 ]; then
    "$b" --benchmark_min_time=0.01 --benchmark_repetitions=1 "${pairs[@]}" >/tmp/bench-smoke.$$ 2>&1 || {
      cat /tmp/bench-smoke.$$; rm -f /tmp/bench-smoke.$$; echo "bench: $(basename "$b") failed"; exit 1; }
    tail -n 3 /tmp/bench-smoke.$$
    rm -f /tmp/bench-smoke.$$
  else
    "$b" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
      --benchmark_report_aggregates_only=true "${pairs[@]}"
  fi
done
[ $found = 1 ] || { echo "bench: no *_bench binaries in $BIN (run make build)"; exit 1; }
