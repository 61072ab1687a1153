#!/usr/bin/env bash
# End-to-end speed of qaccel run (one process per simulation, so timed from outside):
#   LLaMA-2-7B decode step, batch 1, datacenter array, timing-only, overlap (target < 0.1 s of
#     simulation host time, the "simulated ... host time" line)
#   stories110M decode step, edge NPU, functional (target < 2 s)
#   a 500-point timing-only sweep (target >= 1000 points/min)
#   configs/sweeps/llama2-random.yaml, 200 LLaMA-3.2-1B designs (target >= 3000 points/min)
#   overlap vs serial latency on the shipped systems (decode and prefill)
#   bit-serial PEs: functional stories15M decode (bitmod3) vs the systolic W8A8 run, and a
#     timing-only LLaMA-2-7B decode step on bitmod.yaml (target < 0.1 s host time)
#   RDU tiles: functional stories15M decode step on rdu-small, LLaMA-2-7B decode step and
#     512-token prefill on sn40l-like (target < 5 s each), link and fabric vectors per host second
# Usage: bench/run_bench.sh [BUILD_DIR]   (prints wall seconds and simulated cycles per second)
# DRAM and PIM figures: bench/dram_bench.sh.
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
"$q" run "$c/systems/datacenter.yaml" --model "$c/models/llama-2-7b.yaml" \
  --workload "$c/workloads/decode-2k.yaml" --timing-only | awk '/^simulated/ {printf "%-28s %7.3f s simulation host time (%s ops)\n", "  of which simulation", $5, $2}'
# A long decode runs pass by pass (issue 14): 2000 LLaMA-2-7B tokens, timing-only; its peak
# resident size should stay that of a short run (about 15 MB).
long=$(mktemp -d)
sed 's/seq_len: .*/seq_len: 16384/' "$c/models/llama-2-7b.yaml" >"$long/m.yaml"
printf 'workload:\n  name: decode-2000\n  phase: decode\n  context_len: 32\n  generated_tokens: 2000\n' >"$long/w.yaml"
bench llama2-7b-decode-2000-tokens "$q" run "$c/systems/datacenter.yaml" --model "$long/m.yaml" \
  --workload "$long/w.yaml" --timing-only
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "%M" "$q" run "$c/systems/datacenter.yaml" --model "$long/m.yaml" --workload "$long/w.yaml" \
    --timing-only 2>&1 >/dev/null | awk '{printf "%-28s %7.1f MB max resident\n", "  of which memory", $1 / 1024}'
fi
rm -rf "$long"
bench stories110M-decode-func "$q" run "$c/systems/edge-npu.yaml" --model "$c/models/stories110M.yaml" \
  --workload "$c/workloads/decode-1.yaml" --functional

# Bit-serial PEs (issue 13): functional stories15M decode on bitmod.yaml (BitMoD's bitmod3 with
# fp16 inputs, and with int8 inputs) against the systolic datacenter system's W8A8 run (goal:
# within 3x per token), and a timing-only LLaMA-2-7B decode step (goal: < 0.1 s host time).
bench stories15M-bitmod3-fp16-func "$q" run "$c/systems/bitmod.yaml" --model "$c/models/stories15M.yaml" \
  --quant bitmod3-g32 --workload "$c/workloads/decode-32.yaml" --functional
bench stories15M-bitmod3-a8-func "$q" run "$c/systems/bitmod.yaml" --model "$c/models/stories15M.yaml" \
  --quant bitmod3-a8-g32 --workload "$c/workloads/decode-32.yaml" --functional
bench stories15M-systolic-w8a8-func "$q" run "$c/systems/datacenter.yaml" --model "$c/models/stories15M.yaml" \
  --workload "$c/workloads/decode-32.yaml" --functional
"$q" run "$c/systems/bitmod.yaml" --model "$c/models/llama-2-7b.yaml" --quant bitmod3-g128 \
  --workload "$c/workloads/decode-2k.yaml" --timing-only | awk '/^simulated/ {printf "%-28s %7.3f s simulation host time (%s ops)\n", "llama2-7b-bitmod3-timing", $5, $2}'

# RDU tiles (issue 15): a functional stories15M decode step on rdu-small, a timing-only
# LLaMA-2-7B decode step and 512-token prefill on sn40l-like (goal: < 5 s each), and the link
# model's vectors per host second (stepping every vector through the SystemC channel).
bench stories15M-rdu-small-func "$q" run "$c/systems/rdu-small.yaml" --model "$c/models/stories15M.yaml" \
  --workload "$c/workloads/decode-1.yaml" --functional
bench llama2-7b-rdu-decode-timing "$q" run "$c/systems/sn40l-like.yaml" --model "$c/models/llama-2-7b.yaml" \
  --workload "$c/workloads/decode-1.yaml" --timing-only
bench llama2-7b-rdu-prefill512 "$q" run "$c/systems/sn40l-like.yaml" --model "$c/models/llama-2-7b.yaml" \
  --workload "$c/workloads/prefill-512.yaml" --timing-only
"$q" rdu link --capacity 4 --latency 5 --credit-latency 3 --vectors 1e7 --step |
  awk '/^host_seconds/ {printf "%-28s %7.3f s wall  %.3g vectors/s\n", "rdu-link-1e7-step", $2, 1e7 / $2}'
# Sections simulated tile by tile (arch/rdu/fabric.hpp): vectors moved per host second.
"$(dirname "$q")/bench/bench_rdu_fabric" 2>/dev/null | grep '^layer/'

# Design points per minute of a sweep (all cores): sweep_rate NAME FILE
sweep_rate() {
  local db t0 t1 n
  db=$(mktemp -d)/bench.db
  t0=$(date +%s.%N)
  "$q" sweep "$2" --db "$db" --quiet >/dev/null
  t1=$(date +%s.%N)
  n=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE status = 'ok'")
  awk -v name="$1" -v a="$t0" -v b="$t1" -v n="$n" \
    'BEGIN {s = b - a; printf "%-28s %7.3f s wall  %12d design points     %.0f points/min\n", name, s, n, n * 60 / s}'
  rm -rf "$(dirname "$db")"
}
sweep_rate sweep-500-stories15M "$root/bench/sweep-bench.yaml"   # 500 random timing-only designs
sweep_rate sweep-llama2-random "$c/sweeps/llama2-random.yaml"    # the issue's: 200 LLaMA-3.2-1B designs

# Overlap against serial on the shipped systems (timing-only makespans).
echo
printf "%-11s %-12s %-12s %14s %14s %8s\n" system model workload serial overlap change
for sys in edge-npu datacenter; do
  for mw in "stories15M decode-32" "stories110M prefill-512" "llama-3.2-1b decode-2k" "llama-3.2-1b prefill-512" \
            "llama-2-7b decode-2k" "llama-2-7b decode-2k-b16" "llama-2-7b prefill-512"; do
    set -- $mw
    lat() { "$q" run "$c/systems/$sys.yaml" --model "$c/models/$1.yaml" --workload "$c/workloads/$2.yaml" \
      --timing-only --schedule "$3" --prefetch "$4" | awk '/^latency/ {print $2}'; }
    s=$(lat "$1" "$2" serial none)
    o=$(lat "$1" "$2" overlap none)
    p=$(lat "$1" "$2" overlap next_op)
    awk -v a="$sys" -v b="$1" -v w="$2" -v s="$s" -v o="$o" -v p="$p" \
      'BEGIN {printf "%-11s %-12s %-12s %14d %14d %7.2f%%  (overlap+prefetch %d, %.2f%%)\n", a, b, w, s, o, 100 * (o - s) / s, p, 100 * (p - s) / s}'
  done
done
