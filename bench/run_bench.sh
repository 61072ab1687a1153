#!/usr/bin/env bash
# End-to-end speed of qaccel run (one process per simulation, so timed from outside):
#   LLaMA-2-7B decode step, batch 1, datacenter array, timing-only (target < 1 s)
#   stories110M decode step, edge NPU, functional (target < 2 s)
#   a 500-point timing-only sweep (target >= 1000 points/min)
# Usage: bench/run_bench.sh [BUILD_DIR]   (prints wall seconds and simulated cycles per second)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
q=${1:-$root/build}/qaccel
c=$root/configs
bench() {
  local name=$1
  shift
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$("$@" 2>/dev/null)
  t1=$(date +%s.%N)
  local cycles
  cycles=$(echo "$out" | awk '/^latency/ {print $2}')
  awk -v n="$name" -v a="$t0" -v b="$t1" -v c="$cycles" \
    'BEGIN {s = b - a; printf "%-28s %7.3f s wall  %12d simulated cycles  %.3g cycles/s\n", n, s, c, c / s}'
}
bench llama2-7b-decode-timing "$q" run "$c/systems/datacenter.yaml" --model "$c/models/llama-2-7b.yaml" \
  --workload "$c/workloads/decode-2k.yaml" --timing-only
bench stories110M-decode-func "$q" run "$c/systems/edge-npu.yaml" --model "$c/models/stories110M.yaml" \
  --workload "$c/workloads/decode-1.yaml" --functional

# Design points per minute of a timing-only sweep (500 random designs, all cores).
db=$(mktemp -d)/bench.db
t0=$(date +%s.%N)
"$q" sweep "$root/bench/sweep-bench.yaml" --db "$db" --quiet >/dev/null
t1=$(date +%s.%N)
n=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE status = 'ok'" 2>/dev/null || echo 500)
awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN {s = b - a; printf "%-28s %7.3f s wall  %12d design points     %.0f points/min\n", "sweep-500-stories15M", s, n, n * 60 / s}'
rm -rf "$(dirname "$db")"
