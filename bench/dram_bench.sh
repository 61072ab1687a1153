#!/usr/bin/env bash
# Speed of the command-level DRAM and of the PIM systems (issue 12's figures):
#   DRAM cycles simulated per host second on the stream, random and 2:1 mixed traces of 200k
#     requests, one channel (goal >= 10M; Ramulator 2 manages about 0.6M to 1.7M here);
#   LLaMA-2-7B decode step, timing-only, on the datacenter array with command-level HBM2
#     (goal < 10 s host time), and on hbm-pim, duplex and aim-gddr6: latency, energy per token.
# Usage: bench/dram_bench.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
q=${1:-$root/build}/qaccel
c=$root/configs
for cfg in DDR4-2400 HBM2-2000; do
  for kind in stream random mixed; do
    best=0
    for _ in 1 2 3; do  # best of three: the machine may be shared
      r=$("$q" dram --config "$cfg" --channels 1 --synthetic "$kind" | awk '/^cycles_per_host_second/ {print $2}')
      best=$(awk -v a="$best" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
    done
    printf "dram %-12s %-7s %12.0f DRAM cycles per host second\n" "$cfg" "$kind" "$best"
  done
done
for sys in datacenter datacenter-dram hbm-pim duplex aim-gddr6; do
  t0=$(date +%s.%N)
  out=$("$q" run "$c/systems/$sys.yaml" --model "$c/models/llama-2-7b.yaml" \
    --workload "$c/workloads/decode-1.yaml" --timing-only 2>/dev/null)
  t1=$(date +%s.%N)
  echo "$out" | awk -v s="$sys" -v a="$t0" -v b="$t1" '
    /^latency/ {lat = $5} /^energy/ {e = $2}
    END {printf "llama-2-7b decode %-16s %9s ms  %12s uJ/token  %6.2f s host\n", s, lat, e, b - a}'
done
