#!/usr/bin/env bash
# End-to-end checks of the qaccel command line: exit codes, messages, output formats.
# Usage: QACCEL=path/to/qaccel cli_test.sh SOURCE_DIR
set -u
src=$(cd "$1" && pwd)
q=${QACCEL:?set QACCEL to the qaccel binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

check() {  # check NAME EXPECTED_EXIT GREP_PATTERN -- command...
  local name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want"; sed 's/^/  /' "$tmp/err" | head -5; fail=$((fail + 1)); return
  fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$tmp/out" "$tmp/err"; then
    echo "FAIL $name: output lacks /$pattern/"; head -5 "$tmp/out" "$tmp/err"; fail=$((fail + 1)); return
  fi
  pass=$((pass + 1))
}

m=$src/configs/models/tiny.yaml
check help 0 "commands:" -- "$q" --help
check no-args 2 "usage: qaccel" -- "$q"
check unknown-command 2 "did you mean 'run'" -- "$q" rn
check unknown-option 2 "unrecognised option|unrecognized option" -- "$q" ref --model "$m" --prompt-tokens 1 --bogus
check ref-help 0 "--prompt-tokens" -- "$q" ref --help
# Results that cannot be written to stdout are an I/O error, not success.
if [ -w /dev/full ]; then
  check stdout-full 4 "cannot write the results" -- sh -c '"$0" list >/dev/full' "$q"
fi
check missing-prompt 2 "prompt-tokens" -- "$q" ref --model "$m"
check model-and-ckpt 2 "exactly one of" -- "$q" ref --prompt-tokens 1
check bad-token 2 "outside the vocabulary" -- "$q" ref --model "$m" --prompt-tokens "1 999"
check bad-scheme 2 "quantization scheme 'w9a8'" -- "$q" ref --model "$m" --quant w9a8 --prompt-tokens 1
check ref-greedy 0 "^greedy: [0-9]+ [0-9]+ [0-9]+$" -- "$q" ref --model "$m" --prompt-tokens "1 2 3" --greedy 3
check ref-dump 0 "logits" -- "$q" ref --model "$m" --prompt-tokens "5 6 7 8" --dump-logits "$tmp/logits.txt"
lines=$(wc -l <"$tmp/logits.txt")
fields=$(awk 'NR==2{print NF}' "$tmp/logits.txt")
if [ "$lines" -eq 4 ] && [ "$fields" -eq $((4 + 256)) ] && head -c 14 "$tmp/logits.txt" | grep -q "pos 0 token 5"; then
  pass=$((pass + 1))
else
  echo "FAIL dump-logits format: $lines lines, $fields fields"; fail=$((fail + 1))
fi
check compare-float 0 "w4a8-g32-kv16" -- "$q" ref --model "$m" --prompt-tokens "1 2 3 4" --greedy 2 --compare-float
check too-big 2 "more than --max-memory-gib" -- "$q" ref --model "$src/configs/models/llama-2-7b.yaml" --prompt-tokens 1
check too-long 2 "seq_len" -- "$q" ref --model "$m" --prompt-tokens "1 2" --greedy 100
check ops-table 0 "^totals: " -- "$q" ops --model "$m" --workload "$src/configs/workloads/decode-32.yaml"
check ops-csv 0 "^TOTAL," -- "$q" ops --model "$m" --workload "$src/configs/workloads/prefill-64.yaml" --format csv
check ops-json 0 "\"totals\": \{\"ops\": 37" -- "$q" ops --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --format json
check ops-bad-format 2 "expected table, csv, json or dot" -- "$q" ops --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --format xml
check list 0 "^  systolic: " -- "$q" list
check list-stats 0 "mxu.stall_cycles +\[cycles\]" -- "$q" list --stats "$src/configs/systems/edge-npu.yaml"
check list-param 0 "^      rows +int +\[1, 4096\] +required +PEs +PE rows$" -- "$q" list
check list-markdown 0 "^\| \`lanes\` \| int \| \[1, 65536\] \| required \| " -- "$q" list --markdown
check list-markdown-stats 2 "drop --stats" -- "$q" list --markdown --stats "$src/configs/systems/edge-npu.yaml"
check validate-ok 0 "ok \(job\)" -- "$q" validate "$src/configs/default.yaml" "$m"
printf 'model:\n  name: x\n  dimm: 3\n' >"$tmp/bad.yaml"
check validate-bad 2 "model.dimm: unknown key \(did you mean 'dim'\?\)" -- "$q" validate "$tmp/bad.yaml"
check run-default 0 "^verified: 688 ops bit-exact" -- "$q" run "$src/configs/default.yaml"
# Functional progress into a file (not a terminal): one line per report, no carriage returns.
if [ "$(grep -c '^functional: position [0-9]*/48$' "$tmp/err")" -eq 3 ] && ! grep -q $'\r' "$tmp/err"; then
  pass=$((pass + 1)); else echo "FAIL functional progress lines:"; cat -A "$tmp/err" | head -5; fail=$((fail + 1)); fi
grep "^latency" "$tmp/out" >"$tmp/lat_functional"
check run-timing-only 0 "^latency" -- "$q" run "$src/configs/default.yaml" --timing-only
grep "^latency" "$tmp/out" >"$tmp/lat_timing"
if cmp -s "$tmp/lat_functional" "$tmp/lat_timing"; then pass=$((pass + 1)); else
  echo "FAIL functional and timing-only cycle counts differ"; fail=$((fail + 1)); fi
check run-fallback-shown 0 "^fallback   42 gemv ops ran on 'vpu' instead of 'bsu': fp16 weights" -- "$q" run "$src/configs/systems/bitmod.yaml" --model "$src/configs/models/stories15M.yaml" --quant fp16 --workload "$src/configs/workloads/decode-1.yaml" --timing-only
check run-serial-functional 0 "^verified: 688 ops bit-exact" -- "$q" run "$src/configs/default.yaml" --schedule serial
grep "^latency" "$tmp/out" >"$tmp/lat_sf"
check run-serial-timing 0 "^schedule   serial" -- "$q" run "$src/configs/default.yaml" --timing-only --schedule serial
grep "^latency" "$tmp/out" >"$tmp/lat_st"
if cmp -s "$tmp/lat_sf" "$tmp/lat_st" && ! cmp -s "$tmp/lat_sf" "$tmp/lat_timing"; then pass=$((pass + 1)); else
  echo "FAIL serial: functional and timing-only differ, or serial equals overlap"; fail=$((fail + 1)); fi
printf 'job:\n  system: %s\n  model: %s\n  workload: %s\n  mode: functional\n' "$src/configs/systems/edge-npu.yaml" "$m" \
  "$src/configs/workloads/prefill-64.yaml" >"$tmp/job.yaml"
check run-prefill 0 "^verified: " -- "$q" run "$tmp/job.yaml" --json "$tmp/run.json" --ops-csv "$tmp/ops.csv"
check run-json 0 '"tokens_per_s": ' -- cat "$tmp/run.json"
check run-stats 0 "^latency" -- "$q" run "$tmp/job.yaml" --timing-only --stats "$tmp/stats.txt"
check run-stats-file 0 "^mxu.macs +[0-9]+  macs  # " -- cat "$tmp/stats.txt"
check run-csv 0 "^op,step,kind,unit,m,n,k,compute_cycles,stall_cycles,cycles" -- cat "$tmp/ops.csv"
# Chrome/Perfetto trace: valid JSON (SQLite's json_valid), one slice per op, the same bytes twice.
json() {  # json FILE SQL-EXPRESSION-OVER-doc
  sqlite3 :memory: "WITH f(doc) AS (SELECT CAST(readfile('$1') AS TEXT)) SELECT $2 FROM f"
}
slices() {  # X events in a trace file
  sqlite3 :memory: "SELECT count(*) FROM json_each(CAST(readfile('$1') AS TEXT), '\$.traceEvents') WHERE json_extract(value, '\$.ph') = 'X'"
}
check run-trace 0 "^simulated +[0-9]+ ops" -- "$q" run "$tmp/job.yaml" --timing-only --trace-json "$tmp/trace1.json"
nops=$(awk '/^simulated/ {print $2}' "$tmp/out")
"$q" run "$tmp/job.yaml" --timing-only --trace-json "$tmp/trace2.json" >/dev/null 2>&1
if [ "$(json "$tmp/trace1.json" "json_valid(doc)")" = 1 ] && [ "$(slices "$tmp/trace1.json")" = "$nops" ] &&
  cmp -s "$tmp/trace1.json" "$tmp/trace2.json"; then pass=$((pass + 1)); else
  echo "FAIL run-trace file: valid $(json "$tmp/trace1.json" "json_valid(doc)"), $(slices "$tmp/trace1.json") slices for $nops ops, or two runs differ"; fail=$((fail + 1)); fi
check run-trace-names 0 "^mxu vpu$" -- json "$tmp/trace1.json" "(SELECT group_concat(json_extract(value, '\$.args.name'), ' ') FROM json_each(doc, '\$.traceEvents') WHERE json_extract(value, '\$.name') = 'thread_name')"
printf 'job:\n  model: %s\n  workload: %s\n' "$m" "$src/configs/workloads/prefill-64.yaml" >"$tmp/nosys.yaml"
check run-no-system 2 "needs a system" -- "$q" run "$tmp/nosys.yaml"
sed 's/dataflow: ws/dataflow: rs/; s/rows: 32/rows: 0/; s|\.\./tech|'"$src"'/configs/tech|' "$src/configs/systems/edge-npu.yaml" >"$tmp/bad-sys.yaml"
check bad-system 2 "system.units.mxu.rows: expected an integer in \[1, 4096\], found 0" -- "$q" validate "$tmp/bad-sys.yaml"
check bad-dataflow 2 "system.units.mxu.dataflow: found 'rs', expected one of ws, os, is" -- "$q" validate "$tmp/bad-sys.yaml"
check run-system-needs-workload 2 "needs --workload" -- "$q" run "$src/configs/systems/edge-npu.yaml"
check run-system-needs-model 2 "needs --model" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$src/configs/workloads/decode-32.yaml"

# Layer lists: SCALE-Sim GEMM CSV and YAML. 32x32 WS, qkv_proj M=512 N=3072 K=1024:
# 32 x 96 folds of 2*32 + 32 + 512 - 2 = 606 cycles = 1861632, minus 1 = 1861631 (SCALE-Sim v2 reports the
# last busy cycle's index).
check layers-csv 0 "^qkv_proj +mxu +512 +3072 +1024 +1861631 " -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$src/configs/layers/gemm-example.csv" --ops-csv "$tmp/layers.csv"
check layers-ops-csv 0 "^qkv_proj,0,matmul,mxu,512,3072,1024,1861631," -- cat "$tmp/layers.csv"
check ops-dot 0 "n1 -> n2;" -- "$q" ops --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --format dot
check ops-after 0 "^L0.rope,.*,L0.wq L0.wk$" -- "$q" ops --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --format csv
check ops-per-head 0 "L0.attn_score.b0.h1" -- "$q" ops --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --attention per_head
cat >"$tmp/cyc.yaml" <<'YAML'
layers:
  - gemm: {name: a, m: 8, n: 8, k: 8}
    after: [c]
  - gemm: {name: b, m: 8, n: 8, k: 8}
  - gemm: {name: c, m: 8, n: 8, k: 8}
YAML
check layers-cycle 2 "cyc.yaml:.*layers\[0\]\.after: the layers' dependencies form a cycle \(each waits for the next\): a -> c -> b -> a" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/cyc.yaml"
printf 'layers:\n  - gemm: {name: a, m: 8, n: 8, k: 8}\n  - gemm: {name: b, m: 8, n: 8, k: 8}\n    after: [aa]\n' >"$tmp/unk.yaml"
check layers-unknown-after 2 "layers\[1\]\.after\[0\]: found 'aa', expected the name of a layer \(did you mean 'a'\?\)" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/unk.yaml"
printf 'x, 16777216, 16777216, 16777216\n' >"$tmp/huge.csv"
check layers-too-many-macs 2 "huge.csv:1: M x N x K = .* MACs is more than one layer may have" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/huge.csv"
printf 'big, 1, 131072, 131072\n' >"$tmp/big.csv"
check layers-over-4gib 0 "^big +mxu +1 +131072 +131072 +1593835519 " -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/big.csv"
sed "s#../tech/45nm.yaml#$src/configs/tech/45nm.yaml#; s/lanes: 64/lanes: 1/; s/matmul: mxu/matmul: vpu/" \
  "$src/configs/systems/edge-npu.yaml" >"$tmp/slow.yaml"
printf 'x, 100000, 100000, 100000\n' >"$tmp/long.csv"
check run-too-long 2 "could take up to .* cycles, more than the 1e15" -- "$q" run "$tmp/slow.yaml" --workload "$tmp/long.csv"
check run-json-1 0 "" -- "$q" run "$src/configs/default.yaml" --timing-only --json "$tmp/run1.json"
check run-json-2 0 "" -- "$q" run "$src/configs/default.yaml" --timing-only --json "$tmp/run2.json"
check run-json-deterministic 0 "" -- cmp "$tmp/run1.json" "$tmp/run2.json"
check run-json-units 0 "\"units\": \[" -- cat "$tmp/run1.json"
check layers-yaml 0 "^ffn_down_w4 " -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$src/configs/layers/gemm-example.yaml"
check layers-trace 0 "^qkv_proj " -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$src/configs/layers/gemm-example.csv" --trace-json "$tmp/layers-trace.json"
check layers-trace-slices 0 "^5$" -- slices "$tmp/layers-trace.json"
printf 'Layer, M, N, K,\nfc1, 64, 64, 64,\nfc2, 64, x, 64,\nfc3, 0, 1, 1\n' >"$tmp/bad.csv"
check layers-bad-csv 2 "bad.csv:3: expected 'layer name, M, N, K\[, dtype\]' with integer M, N, K" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/bad.csv"
check layers-bad-csv-range 2 "bad.csv:4: M = 0 is outside" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/bad.csv"
head -c 3000 /bin/ls >"$tmp/garbage.csv"
check layers-garbage 2 "garbage.csv" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/garbage.csv"

# llama2.c checkpoints through the CLI: dim 8, hidden 16, 1 layer, 2/2 heads, vocab 10, seq 4
# (760 floats after the header); then the same file cut short.
perl -e 'print pack("l<7", 8, 16, 1, 2, 2, 10, 4); print pack("f<", sin($_) / 3) for 1 .. 760' >"$tmp/m.bin"
check ckpt-ref 0 "^greedy: [0-9] [0-9]$" -- "$q" ref --checkpoint "$tmp/m.bin" --quant w8a8-pc --prompt-tokens "1 2" --greedy 2
head -c 1000 "$tmp/m.bin" >"$tmp/cut.bin"
check ckpt-truncated 2 "truncated: header promises 3068 bytes, file has 1000" -- "$q" ref --checkpoint "$tmp/cut.bin" --prompt-tokens 1

# Hardening: inputs that once gave wrong numbers, hung, or failed with exit 0.
# A model and prefill at their maximum accepted sizes: counts past 2^63 are an error, not wrapped.
printf 'model:\n  name: max\n  dim: 1048576\n  hidden_dim: 1048576\n  n_layers: 4096\n  n_heads: 4096\n  n_kv_heads: 4096\n  vocab_size: 1048576\n  seq_len: 1048576\n' >"$tmp/max.yaml"
printf 'workload:\n  name: pmax\n  phase: prefill\n  prompt_len: 1048576\n  batch: 65536\n' >"$tmp/pmax.yaml"
check ops-overflow 2 "op L0.wq: MACs does not fit in 64 bits" -- "$q" ops --model "$tmp/max.yaml" --workload "$tmp/pmax.yaml"
check run-overflow 2 "does not fit in 64 bits" -- "$q" run "$src/configs/systems/edge-npu.yaml" --model "$tmp/max.yaml" --workload "$tmp/pmax.yaml" --timing-only
# A PIM kernel on a schema-valid but hostile DRAM (tCK 1 us, the longest nFAW, a 100 GHz system
# clock): its length in system cycles is past 2^63, an error naming it, not a negative count.
printf 'system:\n  name: hostile-pim\n  clock_ghz: 100\n  tech: %s\n  memory: {kind: gddr5, model: dram, dram: {preset: GDDR6-14000, channels: 1, org: {bank_groups: 32, banks_per_group: 32, rows: 1048576, tx_bytes: 2048}, timing: {tCK_ps: 1000000, nFAW: 16777216}, controller: {refresh: none}}}\n  units:\n    pim: {impl: pim, style: aim}\n    host: {impl: vector, lanes: 16}\n  mapping: {gemv: pim, default: host}\n' "$src/configs/tech/45nm.yaml" >"$tmp/pim-hostile.yaml"
printf 'layers:\n  - gemm: {name: big, m: 1, n: 1048576, k: 65536, dtype: w8a8}\n' >"$tmp/pim-big.yaml"
check run-pim-overflow 2 "op big on unit 'pim': PIM kernel cycles does not fit in 64 bits" -- "$q" run "$tmp/pim-hostile.yaml" --workload "$tmp/pim-big.yaml" --timing-only
# More banks in a group than the controller tracks is refused by validation, not an internal error.
printf 'dram:\n  preset: HBM2-2000\n  org: {banks_per_group: 64}\n' >"$tmp/bpg.yaml"
check dram-banks-per-group 2 "dram.org.banks_per_group: expected an integer in \[1, 32\], found 64" -- "$q" dram --config "$tmp/bpg.yaml" --synthetic random
printf 'model:\n  name: x\n  dim: 64\n  name: y\n' >"$tmp/dup.yaml"
check validate-duplicate-key 2 "dup.yaml:4:3: model.name: duplicate key 'name' \(first at line 2\)" -- "$q" validate "$tmp/dup.yaml"
mkfifo "$tmp/fifo.csv"
ln -s /dev/zero "$tmp/zero.csv"
check layers-fifo 2 "fifo.csv: not a regular file \(a FIFO\)" -- timeout 20 "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/fifo.csv"
check layers-dev-zero 2 "zero.csv: not a regular file \(a character device\)" -- timeout 20 "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$tmp/zero.csv"
check ckpt-fifo 2 "checkpoint .*fifo.csv: not a regular file" -- timeout 20 "$q" ref --checkpoint "$tmp/fifo.csv" --prompt-tokens 1
layers=$src/configs/layers/gemm-example.csv
check ops-csv-full 4 "^I/O error: --ops-csv: .*failed for /dev/full" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$layers" --ops-csv /dev/full
check stats-full 4 "^I/O error: --stats: .*failed for /dev/full" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$layers" --stats /dev/full
check stats-dir 2 "^error: --stats: cannot write" -- "$q" run "$src/configs/systems/edge-npu.yaml" --workload "$layers" --stats "$tmp"
check ops-csv-no-dir-first 2 "^error: --ops-csv: cannot write $tmp/no/such/dir" -- "$q" run "$src/configs/default.yaml" --timing-only --ops-csv "$tmp/no/such/dir/ops.csv"
if [ ! -s "$tmp/out" ]; then pass=$((pass + 1)); else echo "FAIL ops-csv-no-dir-first: the run went ahead"; fail=$((fail + 1)); fi
check json-full 4 "^I/O error: --json: .*failed for /dev/full" -- "$q" run "$src/configs/default.yaml" --timing-only --json /dev/full
check greedy-int-max 2 "2147483648 positions, more than the model's seq_len" -- "$q" ref --model "$m" --prompt-tokens "1 2" --greedy 2147483647
# A default unit that cannot run an op (the array runs no norms) fails validation, system or job.
sed "s#../tech/45nm.yaml#$src/configs/tech/45nm.yaml#; s/default: vpu/default: mxu/" "$src/configs/systems/edge-npu.yaml" >"$tmp/nodefault.yaml"
check validate-mapping-system 2 "system.mapping.default: no unit can run op L0.residual_att \(add, fp32\)" -- "$q" validate "$tmp/nodefault.yaml"
printf 'job:\n  system: %s\n  model: %s\n  workload: %s\n' "$tmp/nodefault.yaml" "$m" "$src/configs/workloads/decode-32.yaml" >"$tmp/nodefault-job.yaml"
check validate-mapping-job 2 "no unit can run op embedding" -- "$q" validate "$tmp/nodefault-job.yaml"

# Sweeps, queries, plots, merge.
sed "s/count: 500/count: 60/; s/name: bench-sweep/name: sigint/; s|\.\./configs|$src/configs|" \
  "$src/bench/sweep-bench.yaml" >"$tmp/sigint.yaml"
printf 'sweep:\n  name: retry\n  base: %s\n  models: [%s]\n  workloads: [%s]\n  parameters:\n    units.mxu.rows: [4, 8]\n' \
  "$src/configs/systems/datacenter.yaml" "$src/configs/models/llama-2-7b.yaml" "$src/configs/workloads/prefill-512.yaml" \
  >"$tmp/retry.yaml"  # two slow designs: a microsecond timeout kills both
db=$tmp/r.db
check sweep 0 "^sweep smoke: 9 design points; ran 9" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$db" --workers 2 --quiet
check sweep-resume 0 "ran 0, already stored 9" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$db" --quiet
check sweep-timeouts 0 "timeout 2" -- "$q" sweep "$tmp/retry.yaml" --db "$tmp/to.db" --timeout 0.000001 --quiet
check sweep-retry 0 "ran 2, already stored 0; ok 2" -- "$q" sweep "$tmp/retry.yaml" --db "$tmp/to.db" --retry-failed --quiet
check sweep-validate 0 "ok \(sweep, 9 design points\)" -- "$q" validate "$src/configs/sweeps/smoke.yaml"
printf 'sweep:\n  name: f\n  base: %s\n  models: [%s]\n  workloads: [%s]\n  functional: [nope]\n' "$src/configs/systems/edge-npu.yaml" "$src/configs/models/tiny.yaml" "$src/configs/workloads/decode-32.yaml" >"$tmp/func-bad.yaml"
check sweep-functional-unknown 2 "functional: 'nope' is not a model of this sweep \(models: tiny\)" -- "$q" validate "$tmp/func-bad.yaml"
printf 'sweep:\n  name: f\n  base: %s\n  models: [%s]\n  workloads: [%s]\n  functional: true\n' "$src/configs/systems/edge-npu.yaml" "$src/configs/models/llama-2-7b.yaml" "$src/configs/workloads/decode-32.yaml" >"$tmp/func-big.yaml"
check sweep-functional-too-big 2 "functional: the functional reference of 'llama-2-7b' needs" -- "$q" validate "$tmp/func-big.yaml"
check sweep-bad-shard 2 "expected i/N" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$db" --shard 3/2
check query-runs 0 "units.mxu.rows=16" -- "$q" query --db "$db" runs
check query-where 0 '^\[$' -- "$q" query --db "$db" runs --where units.mxu.rows=8 --where units.mxu.dataflow=ws --format json
check query-best 0 "^id +status" -- "$q" query --db "$db" best --by tokens_per_s --top 2
check query-bad-metric 2 "did you mean 'latency_ms'" -- "$q" query --db "$db" best --by latency
check query-pareto 0 "latency_ms" -- "$q" query --db "$db" pareto --x area_mm2 --y latency_ms --format csv
id=$("$q" query --db "$db" runs --format csv | awk -F, 'NR==2 {print $1}')
check query-ops 0 "^L0.wq +gemv +mxu" -- "$q" query --db "$db" ops "$id"
check query-runs-schedule 0 "^id +status +model +workload +schedule" -- "$q" query --db "$db" runs
check query-units 0 "^mxu +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+" -- "$q" query --db "$db" units "$id"
check query-units-all 0 "^[0-9a-f]{12} +overlap +none .* vpu " -- "$q" query --db "$db" units --where units.mxu.rows=8
check query-units-bad 2 "at most one design id" -- "$q" query --db "$db" units "$id" "$id"
check query-sql 0 "^9$" -- "$q" query --db "$db" sql "SELECT count(*) AS n FROM runs" --format csv
check query-sql-readonly 2 "only reading" -- "$q" query --db "$db" sql "DELETE FROM runs"
check query-sql-vacuum-into 2 "only reading" -- "$q" query --db "$db" sql "VACUUM INTO '$tmp/copy.db'"
if [ -e "$tmp/copy.db" ]; then echo "FAIL query-sql-vacuum-into created a file"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
check query-sql-attach 2 "only reading" -- "$q" query --db "$db" sql "ATTACH '$tmp/att.db' AS x"
check query-sql-pragma-write 2 "only reading" -- "$q" query --db "$db" sql "PRAGMA user_version = 5"
check query-sql-two 2 "more than one statement" -- "$q" query --db "$db" sql "SELECT 1; SELECT 2"
check query-sql-empty 2 "empty" -- "$q" query --db "$db" sql ""
check query-sql-max-rows 1 "stopped after --max-rows 3" -- "$q" query --db "$db" sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c" --max-rows 3 --format csv
if [ "$(head -c 100 "$tmp/out" | tr '\n' ' ')" = "x 1 2 3 " ]; then pass=$((pass + 1)); else echo "FAIL query-sql-max-rows output: $(head -c 100 "$tmp/out")"; fail=$((fail + 1)); fi
check query-sql-big-blob 2 "string or blob too big" -- "$q" query --db "$db" sql "SELECT length(randomblob(1000000000))"
check query-sql-json-inf 0 '"a": "Inf", "b": 2.5' -- "$q" query --db "$db" sql "SELECT 1e999 AS a, 2.5 AS b" --format json
check query-sql-time-limit 1 "stopped after --time-limit 0.5 s" -- timeout 30 "$q" query --db "$db" sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" --time-limit 0.5
check plot-roofline 0 "roof.svg" -- "$q" plot roofline --db "$db" --run "$id" -o "$tmp/roof.svg"
check plot-roofline-svg 0 "<svg .*</svg>|Roofline of run" -- cat "$tmp/roof.svg"
check plot-pareto 0 "pareto.svg" -- "$q" plot pareto --db "$db" --sweep smoke --x area_mm2 --y latency_ms -o "$tmp/pareto.svg"
check plot-pareto-svg 0 "Pareto front" -- cat "$tmp/pareto.svg"
check plot-missing-dir 2 "cannot write .*/no/such/dir/p.svg \(No such file or directory\)" -- "$q" plot pareto --db "$db" --sweep smoke --x area_mm2 --y latency_ms -o "$tmp/no/such/dir/p.svg"
# --where narrows both the points and the designs that may dominate them.
check plot-pareto-where 0 "pareto-w.svg" -- "$q" plot pareto --db "$db" --sweep smoke --where units.mxu.rows=8 --x area_mm2 --y latency_ms -o "$tmp/pareto-w.svg"
check plot-pareto-where-svg 0 "units.mxu.rows=8; [0-9]+ Pareto-optimal of 3 designs" -- cat "$tmp/pareto-w.svg"
check plot-pareto-where-none 2 "no finished designs with units.mxu.rows=7" -- "$q" plot pareto --db "$db" --sweep smoke --where units.mxu.rows=7 --x area_mm2 --y latency_ms -o "$tmp/pareto-n.svg"
# Every ws design is dominated by an os one: among the ws designs alone there is still a front.
check query-pareto-where 0 "units.mxu.dataflow=ws" -- "$q" query --db "$db" pareto --sweep smoke --where units.mxu.dataflow=ws --x area_mm2 --y latency_ms
# Timeline: well-formed XML with one lane per unit of the run, in the run's unit order.
check plot-timeline 0 "timeline.svg" -- "$q" plot timeline --db "$db" --run "$id" -o "$tmp/timeline.svg"
lanes=$(grep -o 'class="lane" data-unit="[^"]*"' "$tmp/timeline.svg" | sed 's/.*data-unit="//; s/"$//' | paste -sd' ')
units=$(sqlite3 "$db" "SELECT group_concat(unit, ' ') FROM (SELECT unit FROM unit_metrics WHERE hash LIKE '$id%' ORDER BY idx)")
if ! command -v xmllint >/dev/null; then
  echo "FAIL plot-timeline: xmllint missing (scripts/install-deps.sh installs libxml2-utils)"; fail=$((fail + 1))
elif xmllint --noout "$tmp/timeline.svg" && [ -n "$units" ] && [ "$lanes" = "$units" ]; then pass=$((pass + 1)); else
  echo "FAIL plot-timeline: lanes '$lanes', units '$units' (or not well-formed)"; fail=$((fail + 1)); fi
check plot-timeline-needs-run 2 "timeline needs --run" -- "$q" plot timeline --db "$db" -o "$tmp/x.svg"
check merge 0 "9 new runs" -- "$q" merge "$tmp/merged.db" "$db"
check merge-again 0 "0 new runs" -- "$q" merge "$tmp/merged.db" "$db"
counts="SELECT (SELECT count(*) FROM unit_metrics) || ' ' || (SELECT count(*) FROM op_metrics) || ' ' || (SELECT count(*) FROM stats)"
if [ "$(sqlite3 "$tmp/merged.db" "$counts")" = "$(sqlite3 "$db" "$counts")" ]; then pass=$((pass + 1)); else
  echo "FAIL merge tables: $(sqlite3 "$tmp/merged.db" "$counts") vs $(sqlite3 "$db" "$counts")"; fail=$((fail + 1)); fi
# An input without one of the results tables is refused before anything is merged (also the
# good input given before it: the target stays untouched).
"$q" merge "$tmp/nostats.db" "$db" >/dev/null && sqlite3 "$tmp/nostats.db" "DROP TABLE stats"
check merge-missing-table 2 "input .*nostats.db has no table 'stats'" -- "$q" merge "$tmp/merged-ms.db" "$db" "$tmp/nostats.db"
if [ -e "$tmp/merged-ms.db" ]; then echo "FAIL merge-missing-table left $tmp/merged-ms.db"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
# A database of the previous schema version: a clear error from every command, no crash.
"$q" merge "$tmp/old.db" "$db" >/dev/null && sqlite3 "$tmp/old.db" "PRAGMA user_version=1"
check query-old-db 2 "schema version 1 \(written by an older qaccel\), this qaccel reads version 3" -- "$q" query --db "$tmp/old.db" runs
check plot-old-db 2 "written by an older qaccel" -- "$q" plot roofline --db "$tmp/old.db" --run "$id" -o "$tmp/x.svg"
check merge-old-db 2 "written by an older qaccel" -- "$q" merge "$tmp/merged-old.db" "$tmp/old.db"
check sweep-old-db 2 "written by an older qaccel" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/old.db" --quiet
echo "not a database at all" >"$tmp/foreign.db"
check query-foreign-db 2 "not a SQLite database" -- "$q" query --db "$tmp/foreign.db" runs

# Hardening of the DSE commands: bounded inputs, regular files, merge precedence, I/O errors.
perl -e 'print "sweep:\n  name: deep\n  base: '"$src"'/configs/systems/edge-npu.yaml\n  models: ['"$m"']\n  workloads: ['"$src"'/configs/workloads/decode-32.yaml]\n  parameters:\n    units.mxu.rows: [4]\n  constraints: [\"", "(" x 200000, "units.mxu.rows < 2\"]\n"' >"$tmp/deep.yaml"
check validate-deep-constraint 2 "deep.yaml.*constraints\[0\].*more than 4096" -- "$q" validate "$tmp/deep.yaml"
check sweep-deep-constraint 2 "more than 4096" -- "$q" sweep "$tmp/deep.yaml" --db "$tmp/deep.db" --quiet
sed 's/units.mxu.rows: \[4\]/units.mxu.rows: {from: 1, to: 1000, step: 1}\n    units.mxu.cols: {from: 1, to: 1000, step: 1}/; s/  constraints:.*//' "$tmp/deep.yaml" >"$tmp/huge.yaml"
check validate-huge-grid 2 "1000000 designs .*more than --max-designs 999999" -- timeout 60 "$q" validate "$tmp/huge.yaml" --max-designs 999999
sed 's/to: 1000, step: 1}$/to: 250, step: 1}/; s/cols: {from: 1, to: 250/cols: {from: 1, to: 400/' "$tmp/huge.yaml" >"$tmp/100k.yaml"
check validate-100k-fast 0 "ok \(sweep, 100000 design points, the first 1000 built" -- timeout 20 "$q" validate "$tmp/100k.yaml"
check sweep-huge-grid 2 "more than --max-designs 1000" -- timeout 60 "$q" sweep "$tmp/huge.yaml" --db "$tmp/huge.db" --max-designs 1000 --quiet
sed 's/units.mxu.rows: \[4\]/units.mxu.rows: [4, 8]\n  strategy: {kind: random, count: 10000000, seed: 1}/; s/  constraints:.*//' "$tmp/deep.yaml" >"$tmp/tiny-random.yaml"
sed 's/units.mxu.rows: \[4\]/units.mxu.rows: [4, 8]\n  strategy: {kind: nsga2, population: 10000, generations: 100000, seed: 1}\n  objectives: {latency_ms: min, area_mm2: min}/; s/  constraints:.*//' "$tmp/deep.yaml" >"$tmp/big-nsga.yaml"
check validate-nsga2-huge 2 "1000010000 evaluations, more than --max-designs" -- timeout 60 "$q" validate "$tmp/big-nsga.yaml"
check sweep-nsga2-huge 2 "1000010000 evaluations, more than --max-designs" -- timeout 60 "$q" sweep "$tmp/big-nsga.yaml" --db "$tmp/nsga.db" --quiet
check sweep-shard-overflow 2 "expected i/N" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/x.db" --shard 0/2147483648
check sweep-random-tiny-space 0 "each was drawn once" -- timeout 120 "$q" sweep "$tmp/tiny-random.yaml" --db "$tmp/tiny.db" --quiet
mkfifo "$tmp/fifo.db"
check query-fifo-db 2 "not a regular file" -- timeout 10 "$q" query --db "$tmp/fifo.db" runs
check sweep-devzero-db 2 "not a regular file" -- timeout 10 "$q" sweep "$src/configs/sweeps/smoke.yaml" --db /dev/zero --quiet
check sweep-db-under-a-file 2 "foreign.db is not a directory" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/foreign.db/x.db" --quiet
check merge-fifo 2 "not a regular file" -- timeout 10 "$q" merge "$tmp/m2.db" "$tmp/fifo.db"
check merge-self 2 "is the output database .* itself" -- timeout 10 "$q" merge "$tmp/merged.db" "$tmp/./merged.db"
# Every table arrives, and an ok run replaces a failed one with its measurements.
cp "$db" "$tmp/failed.db"
sqlite3 "$tmp/failed.db" "UPDATE runs SET status = 'failed', error = 'x' WHERE hash = (SELECT min(hash) FROM runs);
  DELETE FROM metrics WHERE hash = (SELECT min(hash) FROM runs); DELETE FROM stats WHERE hash = (SELECT min(hash) FROM runs)"
check merge-ok-over-failed 0 "0 new runs, 1 replaced" -- "$q" merge "$tmp/failed.db" "$db"
all_counts() {
  sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name" | while read -r t; do
    printf '%s=%s ' "$t" "$(sqlite3 "$1" "SELECT count(*) FROM $t")"; done
}
if [ "$(all_counts "$tmp/failed.db")" = "$(all_counts "$db")" ] && [ "$(all_counts "$tmp/merged.db")" = "$(all_counts "$db")" ]; then
  pass=$((pass + 1)); else echo "FAIL merge all tables: $(all_counts "$tmp/failed.db") vs $(all_counts "$db")"; fail=$((fail + 1)); fi
check merge-expect 0 "expect smoke: 9 designs, 9 stored \(0 failed or timed out\), 0 missing" -- "$q" merge "$tmp/merged.db" "$db" --expect "$src/configs/sweeps/smoke.yaml"
"$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/shard0.db" --shard 0/3 --quiet >/dev/null 2>&1
check merge-expect-missing 1 "expect smoke: 9 designs, 3 stored .* 6 missing" -- "$q" merge "$tmp/part.db" "$tmp/shard0.db" --expect "$src/configs/sweeps/smoke.yaml"
# A results database shipped read-only (file and directory a-w): query, plot and merge read it.
# With a log left beside it (-wal and -shm) its changes are read too (one run deleted in it);
# a -wal without its -shm cannot be read without losing them: refused, naming the file. Root
# ignores permissions: as root these run as nobody (setpriv), or are skipped.
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  chmod 755 "$tmp"  # nobody must reach the copies and the outputs
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  "${as_user[@]}" "$q" --help >/dev/null 2>&1 || as_user=(skip)
fi
if [ "${as_user[*]}" != skip ]; then
  mkdir "$tmp/ro" "$tmp/ro-wal" "$tmp/ro-walshm" "$tmp/ro-out" && chmod 777 "$tmp/ro-out"
  cp "$db" "$tmp/ro/r.db" && cp "$db" "$tmp/live.db"
  # A snapshot of a database whose writer is still open: the deletion is only in its -wal.
  sqlite3 "$tmp/live.db" "PRAGMA wal_autocheckpoint = 0" "DELETE FROM runs WHERE hash = (SELECT min(hash) FROM runs)" \
    ".shell cp $tmp/live.db $tmp/ro-wal/r.db; cp $tmp/live.db-wal $tmp/ro-wal/r.db-wal; cp $tmp/live.db $tmp/live.db-wal $tmp/live.db-shm $tmp/ro-walshm/" >/dev/null
  mv "$tmp/ro-walshm/live.db" "$tmp/ro-walshm/r.db"; mv "$tmp/ro-walshm/live.db-wal" "$tmp/ro-walshm/r.db-wal"; mv "$tmp/ro-walshm/live.db-shm" "$tmp/ro-walshm/r.db-shm"
  chmod a-w "$tmp"/ro/* "$tmp/ro" "$tmp"/ro-wal/* "$tmp/ro-wal" "$tmp"/ro-walshm/* "$tmp/ro-walshm"
  check ro-query 0 "^9$" -- "${as_user[@]}" "$q" query --db "$tmp/ro/r.db" sql "SELECT count(*) AS n FROM runs" --format csv
  check ro-plot 0 "pareto.svg" -- "${as_user[@]}" "$q" plot pareto --db "$tmp/ro/r.db" --sweep smoke --x area_mm2 --y latency_ms -o "$tmp/ro-out/pareto.svg"
  check ro-merge 0 "r.db: 9 new runs" -- "${as_user[@]}" "$q" merge "$tmp/ro-out/m.db" "$tmp/ro/r.db"
  check ro-walshm-query 0 "^8$" -- "${as_user[@]}" "$q" query --db "$tmp/ro-walshm/r.db" sql "SELECT count(*) AS n FROM runs" --format csv
  check ro-walshm-merge 0 "r.db: 8 new runs" -- "${as_user[@]}" "$q" merge "$tmp/ro-out/m2.db" "$tmp/ro-walshm/r.db"
  check ro-wal-query 4 "ro-wal/r.db: cannot read it: .*ro-wal/r.db-wal may hold changes" -- "${as_user[@]}" "$q" query --db "$tmp/ro-wal/r.db" runs
  check ro-wal-merge 4 "ro-wal/r.db: cannot read it: .*ro-wal/r.db-wal may hold changes" -- "${as_user[@]}" "$q" merge "$tmp/ro-out/m3.db" "$tmp/ro-wal/r.db"
  chmod -R u+w "$tmp"/ro*
else
  echo "skipped as root without setpriv: ro-query, ro-plot, ro-merge, ro-walshm-*, ro-wal-*"
fi
# A full disk (a file-size limit here): exit 4, nothing recorded as failed, resume completes.
# Not under ASan (scripts/test.sh --sanitize sets ASAN_OPTIONS): a worker that throws the I/O
# error after its SystemC run dies of a false ASan report (SystemC switches coroutine stacks
# unannounced, google/sanitizers#189), which the driver then records as a failed design.
if [ -z "${ASAN_OPTIONS:-}" ]; then
( ulimit -f 300; trap '' XFSZ; exec "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/full.db" --workers 2 --quiet ) >"$tmp/out" 2>"$tmp/err"
rc=$?
stored=$(sqlite3 "$tmp/full.db" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)
notok=$(sqlite3 "$tmp/full.db" "SELECT count(*) FROM runs WHERE status != 'ok'" 2>/dev/null || echo x)
if [ "$rc" -eq 4 ] && grep -q "I/O error" "$tmp/err" && [ "$notok" = 0 ] && [ "$stored" -lt 9 ]; then pass=$((pass + 1)); else
  echo "FAIL sweep-disk-full: exit $rc, $stored stored, $notok not ok"; head -3 "$tmp/err"; fail=$((fail + 1)); fi
check sweep-after-disk-full 0 "ran $((9 - stored)), already stored $stored; ok 9" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/full.db" --quiet
check full-db-integrity 0 "^ok$" -- sqlite3 "$tmp/full.db" "PRAGMA integrity_check"
else
  echo "skipped under ASan: sweep-disk-full, sweep-after-disk-full, full-db-integrity (false reports after SystemC)"
fi
# The same without ignoring SIGXFSZ: workers die of the signal, which is no design failure either.
( ulimit -f 300; exec "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/xfsz.db" --workers 2 --quiet ) >"$tmp/out" 2>"$tmp/err"
rc=$?
notok=$(sqlite3 "$tmp/xfsz.db" "SELECT count(*) FROM runs WHERE status != 'ok'" 2>/dev/null || echo x)
if [ "$rc" -eq 4 ] && [ "$notok" = 0 ]; then pass=$((pass + 1)); else
  echo "FAIL sweep-xfsz: exit $rc, $notok not ok"; head -3 "$tmp/err"; fail=$((fail + 1)); fi
# Output that cannot be written (a full disk): exit 4, not "bad input".
check plot-dev-full 4 "I/O error: -o: writing /dev/full failed" -- "$q" plot roofline --db "$db" --run "$id" -o /dev/full
check query-dev-full 4 "I/O error: writing the query's output failed" -- bash -c '"$0" query --db "$1" runs >/dev/full' "$q" "$db"
# Control characters in names: the SVG stays well-formed.
cp "$db" "$tmp/ctl.db"
sqlite3 "$tmp/ctl.db" "UPDATE designs SET model = 'ti' || char(1) || 'ny' || char(27); UPDATE unit_metrics SET unit = unit || char(2); UPDATE op_metrics SET unit = unit || char(2), name = name || char(3)"
check plot-timeline-ctl 0 "ctl.svg" -- "$q" plot timeline --db "$tmp/ctl.db" --run "$id" -o "$tmp/ctl.svg"
check plot-timeline-ctl-xml 0 "" -- xmllint --noout "$tmp/ctl.svg"
check plot-roofline-ctl 0 "ctlr.svg" -- "$q" plot roofline --db "$tmp/ctl.db" --run "$id" -o "$tmp/ctlr.svg"
check plot-roofline-ctl-xml 0 "" -- xmllint --noout "$tmp/ctlr.svg"
# Empty paths name no file (SQLite would open a temporary database for "").
check sweep-db-empty 2 "--db: empty path" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --quiet --db ""
check merge-out-empty 2 "--out: empty path" -- "$q" merge "" "$db"
check merge-in-empty 2 "--in: empty path" -- "$q" merge "$tmp/e.db" ""
check query-db-empty 2 "--db: empty path" -- "$q" query --db "" runs
check plot-out-empty 2 "--out: empty path" -- "$q" plot roofline --db "$db" --run "$id" -o ""
# The SVG never overwrites its own input database (any name for it, or its -wal/-shm).
cp "$db" "$tmp/keep.db"
check plot-out-is-db 2 "is the database" -- "$q" plot roofline --db "$tmp/keep.db" --run "$id" -o "$tmp/./keep.db"
ln -sf "$tmp/keep.db" "$tmp/keep-link.db"
check plot-out-is-db-link 2 "is the database" -- "$q" plot roofline --db "$tmp/keep.db" --run "$id" -o "$tmp/keep-link.db"
check plot-out-is-wal 2 "is the database .*keep.db-wal" -- "$q" plot roofline --db "$tmp/keep.db" --run "$id" -o "$tmp/keep.db-wal"
check plot-db-intact 0 "^ok$" -- sqlite3 "$tmp/keep.db" "PRAGMA integrity_check"
mkfifo "$tmp/out.fifo"
check plot-out-fifo 2 "not a regular file \\(a FIFO\\)" -- timeout 10 "$q" plot roofline --db "$db" --run "$id" -o "$tmp/out.fifo"
check plot-out-dir 2 "not a regular file \\(a directory\\)" -- "$q" plot roofline --db "$db" --run "$id" -o "$tmp"
# A constraint whose value is not finite (division by zero, NaN) is an error, not a pass or a fail.
cons() {  # cons NAME CONSTRAINT: a one-design sweep with that constraint
  printf 'sweep:\n  name: %s\n  base: %s\n  models: [%s]\n  workloads: [%s]\n  parameters:\n    units.mxu.rows: [8]\n    units.mxu.dataflow: [ws]\n  constraints: ["%s"]\n' \
    "$1" "$src/configs/systems/edge-npu.yaml" "$m" "$src/configs/workloads/decode-32.yaml" "$2" >"$tmp/$1.yaml"
}
cons div0 "units.mxu.rows / 0 <= 1"
check constraint-div0 2 "div0.yaml: sweep.constraints\[0\]: constraint 'units.mxu.rows / 0 <= 1': .*not a finite" -- "$q" validate "$tmp/div0.yaml"
check constraint-div0-sweep 2 "not a finite" -- "$q" sweep "$tmp/div0.yaml" --db "$tmp/div0.db" --quiet
cons nan "(0/0) != (0/0)"
check constraint-nan 2 "nan.yaml: sweep.constraints\[0\].*not a finite" -- "$q" validate "$tmp/nan.yaml"
cons notnum "units.mxu.dataflow <= 1"
check constraint-not-number 2 "notnum.yaml: sweep.constraints\[0\]: constraint .*units.mxu.dataflow = 'ws' is not a number" -- "$q" validate "$tmp/notnum.yaml"
cons mdiv0 "latency_ms / 0 <= 1"
check constraint-metric-div0 0 "failed 1, timeout 0, infeasible 0" -- "$q" sweep "$tmp/mdiv0.yaml" --db "$tmp/mdiv0.db" --quiet
check constraint-metric-div0-reason 0 "mdiv0.yaml: sweep.constraints\[0\].*not a finite" -- sqlite3 "$tmp/mdiv0.db" "SELECT status, error FROM runs"
# Option values that would silently mean something else are refused.
check sweep-timeout-nan 2 "--timeout must be a finite" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/nan.db" --timeout nan
check sweep-timeout-inf 2 "--timeout must be a finite" -- "$q" sweep "$src/configs/sweeps/smoke.yaml" --db "$tmp/nan.db" --timeout inf
check query-top-negative 2 "--top must be >= 1" -- "$q" query --db "$db" best --by latency_ms --top -1
check query-ops-step-range 2 "--step 999999: run .* has steps 0\.\.[0-9]+" -- "$q" query --db "$db" ops "$id" --step 999999
check query-ops-step-negative 2 "--step must be >= 0" -- "$q" query --db "$db" ops "$id" --step -1
check plot-step-range 2 "--step 99999: run .* has steps 0\.\." -- "$q" plot roofline --db "$db" --run "$id" --step 99999 -o "$tmp/x.svg"
check validate-max-designs 2 "--max-designs must be >= 1" -- "$q" validate "$src/configs/sweeps/smoke.yaml" --max-designs -5
check merge-max-designs 2 "--max-designs must be >= 1" -- "$q" merge "$tmp/md.db" "$db" --max-designs 0
check query-unknown-sweep 2 "--sweep 'nope': no such sweep .*\(sweeps: smoke\)" -- "$q" query --db "$db" runs --sweep nope
check query-unknown-where 2 "--where: no swept parameter 'nope' .*units.mxu.rows" -- "$q" query --db "$db" runs --where nope=1
# merge checks every input and --expect before writing; a target it created is removed on failure.
head -c 4096 /dev/urandom >"$tmp/garbage.db"
check merge-garbage-late 2 "garbage.db: not a SQLite database" -- "$q" merge "$tmp/mg.db" "$db" "$tmp/garbage.db"
check merge-garbage-late-nothing 1 "" -- test -e "$tmp/mg.db"
check merge-expect-missing-file 2 "nothere.yaml: no such file" -- "$q" merge "$tmp/mx.db" "$db" --expect "$tmp/nothere.yaml"
check merge-expect-missing-nothing 1 "" -- test -e "$tmp/mx.db"
check merge-missing-input 2 "nothere.db: no such file" -- "$q" merge "$tmp/mn.db" "$tmp/nothere.db"
check merge-missing-input-nothing 1 "" -- test -e "$tmp/mn.db"
cp "$db" "$tmp/cor.db"
sqlite3 "$tmp/cor.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
pages=$(sqlite3 "$tmp/cor.db" "PRAGMA page_count")
dd if=/dev/urandom of="$tmp/cor.db" bs=4096 seek=$((pages / 2)) count=2 conv=notrunc 2>/dev/null
check merge-corrupt-input 2 "input .*cor.db is corrupt" -- "$q" merge "$tmp/mc.db" "$db" "$tmp/cor.db"
# query prints every value whole and JSON stays valid.
vals="SELECT x'00ff' AS b, NULL AS n, 'a'||char(0)||'b' AS z, CAST(x'ff41' AS TEXT) AS u, 1 AS a, 2 AS a, char(27) AS e"
check query-json-values 0 '"b": "0x00ff", "n": null, "z": "a\\u0000b", "u": "\\ufffdA", "a": 1, "a_2": 2' -- "$q" query --db "$db" sql "$vals" --format json
check query-json-valid 0 "" -- sh -c '"$0" query --db "$1" sql "$2" --format json | python3 -c "import json,sys; json.load(sys.stdin)"' "$q" "$db" "$vals"
check query-table-values 0 "x'00ff' +a.x00b +1 +2 +.x1b" -- "$q" query --db "$db" sql "SELECT x'00ff' AS b, NULL AS n, 'a'||char(0)||'b' AS z, 1 AS a, 2 AS a, char(27) AS e"
check query-pragma-table-info 0 "^status" -- "$q" query --db "$db" sql "SELECT name FROM pragma_table_info('runs')"
check query-update-master 2 "may not be modified|only reading" -- "$q" query --db "$db" sql "UPDATE sqlite_master SET sql = '' WHERE 0"
# merge ranks equal-status runs by finish instant, not by the timestamp's text.
cp "$db" "$tmp/tzA.db"; cp "$db" "$tmp/tzB.db"
sqlite3 "$tmp/tzA.db" "UPDATE runs SET finished = '2030-01-01T15:00:00Z', host = 'later'"
sqlite3 "$tmp/tzB.db" "UPDATE runs SET finished = '2030-01-01T16:00:00+02:00', host = 'earlier'"
"$q" merge "$tmp/tzA.db" "$tmp/tzB.db" >/dev/null
check merge-finished-instant 0 "^later$" -- sqlite3 "$tmp/tzA.db" "SELECT DISTINCT host FROM runs"
# Names are printable UTF-8 of at most 200 bytes, checked at load with the key.
sed 's/name: smoke/name: "sm\\x1boke"/; s|\.\./|'"$src"'/configs/|' "$src/configs/sweeps/smoke.yaml" >"$tmp/ctlname.yaml"
check sweep-name-control 2 "ctlname.yaml:3:[0-9]+: sweep.name: a name may not contain control characters" -- "$q" validate "$tmp/ctlname.yaml"
sed "s/name: smoke/name: $(printf 'x%.0s' $(seq 300))/; s|\.\./|$src/configs/|" "$src/configs/sweeps/smoke.yaml" >"$tmp/longname.yaml"
check sweep-name-long 2 "sweep.name: a name of 300 bytes" -- "$q" validate "$tmp/longname.yaml"
# nsga2 on a space smaller than its population: the summary counts designs, as stored.
printf 'sweep:\n  name: tinyga\n  base: %s\n  models: [%s]\n  workloads: [%s]\n  parameters:\n    units.mxu.rows: [8, 16]\n  strategy: {kind: nsga2, population: 4, generations: 2, seed: 1}\n  objectives: {latency_ms: min, area_mm2: min}\n' \
  "$src/configs/systems/edge-npu.yaml" "$m" "$src/configs/workloads/decode-32.yaml" >"$tmp/tinyga.yaml"
check nsga2-small-counts 0 "tinyga: 2 design points; ran 2, already stored 0; ok 2" -- "$q" sweep "$tmp/tinyga.yaml" --db "$tmp/tinyga.db" --quiet
# A database directory that cannot be made says why (permission denied), exit 4.
rodir=$(mktemp -d) && chmod 755 "$rodir" && mkdir "$rodir/ro" && chmod 555 "$rodir/ro"
as=""
if [ "$(id -u)" = 0 ]; then as="setpriv --reuid=65534 --regid=65534 --clear-groups"; fi
if [ -z "$as" ] || command -v setpriv >/dev/null; then
  check sweep-db-dir-denied 4 "cannot create directory .*ro/sub: Permission denied" -- $as "$q" sweep "$src/configs/sweeps/smoke.yaml" --quiet --db "$rodir/ro/sub/x.db"
fi
# A results database in a directory this user cannot write is still readable.
cp "$db" "$rodir/ro/r.db" 2>/dev/null || { chmod 755 "$rodir/ro"; cp "$db" "$rodir/ro/r.db"; }
chmod 644 "$rodir/ro/r.db"; chmod 555 "$rodir/ro"
if [ -z "$as" ] || command -v setpriv >/dev/null; then
  check query-readonly-dir 0 "units.mxu.rows=16" -- $as "$q" query --db "$rodir/ro/r.db" runs
fi
chmod 755 "$rodir/ro"; rm -rf "$rodir"

# The command-level DRAM on its own.
check dram-synthetic 0 "^cycles: [0-9]+" -- "$q" dram --config DDR4-2400 --synthetic stream --requests 3000 --check
check dram-json 0 "^  \"config\": \"HBM2-2000\",$" -- "$q" dram --config HBM2-2000 --synthetic stream --requests 1000 --json
printf 'LD 0x40\nST 0x80\n100 R 0x1000\n' >"$tmp/ok.trace"
check dram-trace 0 "reads: 2" -- "$q" dram --config "$src/configs/dram/edge-lpddr5.yaml" --trace "$tmp/ok.trace"
printf 'LD 0x40\nLOAD 0x80\n' >"$tmp/bad.trace"
check dram-bad-line 2 "bad.trace:2: not a trace line: 'LOAD 0x80'" -- "$q" dram --config HBM2-2000 --trace "$tmp/bad.trace"
printf 'LD 0xffffffffffff\n' >"$tmp/far.trace"
check dram-beyond-capacity 2 "beyond the capacity" -- "$q" dram --config HBM2-2000 --trace "$tmp/far.trace"
check dram-unknown-preset 2 "not a preset name \\(presets: HBM2-2000" -- "$q" dram --config HBM9 --synthetic random
printf 'dram: {preset: DDR4-2400, timing: {nRC: 20}}\n' >"$tmp/badrc.yaml"
check dram-nrc 2 "nRC: 20 < nRAS \\+ nRP" -- "$q" dram --config "$tmp/badrc.yaml" --synthetic random
check dram-fifo 2 "not a regular file" -- "$q" dram --config DDR4-2400 --trace /dev/zero

# PIM: a GEMV from a layer list with a dtype column; a bad dtype names the line.
printf 'Layer, M, N, K, dtype\nqkv, 1, 4096, 4096, w8a8-g128\n' >"$tmp/gemv.csv"
check pim-layer-gemv 0 "^pim +1 " -- "$q" run "$src/configs/systems/hbm-pim.yaml" --workload "$tmp/gemv.csv"
# FP16 4096x4096 as Samsung's PIMSimulator runs it (13166 cycles there; tests/test_pim.cpp):
# the kernel without refresh (12544) plus three refreshes of nRFC + nRP.
printf 'Layer, M, N, K, dtype\ngemv, 1, 4096, 4096, fp16\n' >"$tmp/fp16.csv"
check pim-fp16-gemv 0 "^latency +13636 cycles" -- "$q" run "$src/configs/systems/hbm-pim.yaml" --workload "$tmp/fp16.csv"
# An fp16 (W16A16) model: every PIM matmul recomputed bit for bit (unshared classifier too).
sed -e 's/weights: int8/weights: fp16/' -e '/group_size/d' -e '/activation_bits/d' \
  "$src/configs/models/tiny.yaml" >"$tmp/tiny16.yaml"
check pim-fp16-functional 0 "^verified: 240 ops bit-exact \(matmuls recomputed on pim" -- "$q" run \
  "$src/configs/systems/hbm-pim.yaml" --model "$tmp/tiny16.yaml" --workload "$src/configs/workloads/decode-32.yaml" --functional
sed 's/style: aim/style: aim\n      blocks_per_pch: 4/; s|\.\./|'"$src"'/configs/|' "$src/configs/systems/aim-gddr6.yaml" >"$tmp/aimb.yaml"
check pim-aim-blocks 2 "blocks_per_pch applies to style hbm_pim only" -- "$q" validate "$tmp/aimb.yaml"
printf 'Layer, M, N, K, dtype\nqkv, 1, 64, 64, w9a8\n' >"$tmp/baddt.csv"
check layer-bad-dtype 2 "baddt.csv:2: dtype 'w9a8'" -- "$q" run "$src/configs/systems/hbm-pim.yaml" --workload "$tmp/baddt.csv"

# Ctrl-C stops cleanly (exit 130), keeps what finished, and the same command resumes.
sed "s/count: 500/count: 60/; s/name: bench-sweep/name: sigint/; s|\.\./configs|$src/configs|" \
  "$src/bench/sweep-bench.yaml" >"$tmp/sigint.yaml"
"$q" sweep "$tmp/sigint.yaml" --db "$tmp/int.db" --workers 1 --quiet >/dev/null 2>&1 &
spid=$!
for _ in $(seq 200); do  # until a few designs are stored (at most 10 s)
  sleep 0.05
  n=$(sqlite3 "$tmp/int.db" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 3 ] && break
done
kill -INT "$spid"
wait "$spid"
rc=$?
partial=$(sqlite3 "$tmp/int.db" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)
check sweep-resume-after-int 0 "ran $((60 - partial)), already stored $partial" -- "$q" sweep "$tmp/sigint.yaml" --db "$tmp/int.db" --quiet
if [ "$rc" -eq 130 ] && [ "$partial" -gt 0 ] && [ "$partial" -lt 60 ]; then pass=$((pass + 1)); else
  echo "FAIL sigint: exit $rc, $partial of 60 stored"; fail=$((fail + 1)); fi

# ---- ref --perplexity (issue 13): a checkpoint and a tokenizer written here -------------------
# dim 8, hidden 16, 1 layer, 2/2 heads, vocab 10, seq_len 4 (760 floats), and a 10-piece
# tokenizer.bin (int32 max_token_length, then per piece: float32 score, int32 length, bytes).
perl -e 'print pack("l<7", 8, 16, 1, 2, 2, 10, 4); print pack("f<", cos($_) / 3) for 1 .. 760' >"$tmp/ppl.bin"
perl -e 'my @p = ("<unk>", "<s>", "</s>", " ", "a", "b", "c", "ab", " a", "ba");
  my @s = (0, 0, 0, -9, -9, -9, -9, -1, -2, -3);
  print pack("l<", 5); print pack("f<l<", $s[$_], length $p[$_]), $p[$_] for 0 .. $#p' >"$tmp/tok.bin"
printf 'abba cab\nab a' >"$tmp/text.txt"
# "abba cab\nab a": the newline is no piece and falls back to byte 0x0A = id 13, past the
# vocabulary of 10: an error naming the tokenizer.
check ppl-byte-fallback 2 "tokenizer .*tok.bin: byte 0x0a .* falls back to token 13" -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/text.txt" --tokenizer "$tmp/tok.bin"
printf 'abba cab ab a bab' >"$tmp/text.txt"
check ppl-table 0 "^w8a8-pc-kv16 +[0-9]+ +[0-9]+\.[0-9]{4} +[0-9]+\.[0-9]{3}$" -- "$q" ref --checkpoint "$tmp/ppl.bin" --quant w8a8-pc --perplexity "$tmp/text.txt" --tokenizer "$tmp/tok.bin"
# Merges "ab" (best score) everywhere, then " a", then "ba": [BOS, " ", "ab", "ba", " ", "c",
# "ab", " ", "ab", " a", " ", "b", "ab"], 13 tokens in windows of 4, 4, 4, 1: 9 predictions.
if grep -qE "^fp32 +9 " "$tmp/out" && grep -q "over 4 windows of up to 4 tokens" "$tmp/out" &&
  [ "$(grep -cE '^(fp32|w8a8)' "$tmp/out")" -eq 2 ]; then pass=$((pass + 1)); else
  echo "FAIL ppl-table rows:"; sed 's/^/  /' "$tmp/out"; fail=$((fail + 1)); fi
check ppl-max-tokens 0 "^fp32 +3 " -- "$q" ref --checkpoint "$tmp/ppl.bin" --quant fp32 --perplexity "$tmp/text.txt" --tokenizer "$tmp/tok.bin" --max-tokens 4
check ppl-needs-tokenizer 2 "--perplexity needs --tokenizer" -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/text.txt"
check ppl-tokenizer-alone 2 "--tokenizer goes with --perplexity" -- "$q" ref --checkpoint "$tmp/ppl.bin" --prompt-tokens 1 --tokenizer "$tmp/tok.bin"
check ppl-with-prompt 2 "runs on its own: drop --prompt-tokens" -- "$q" ref --checkpoint "$tmp/ppl.bin" --prompt-tokens 1 --perplexity "$tmp/text.txt" --tokenizer "$tmp/tok.bin"
check ppl-missing-tokenizer 2 "tokenizer .*nope.bin: no such file" -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/text.txt" --tokenizer "$tmp/nope.bin"
head -c 3000 /bin/ls >"$tmp/garbage-tok.bin"
check ppl-garbage-tokenizer 2 "tokenizer .*garbage-tok.bin: " -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/text.txt" --tokenizer "$tmp/garbage-tok.bin"
head -c 45 "$tmp/tok.bin" >"$tmp/cut-tok.bin"
check ppl-truncated-tokenizer 2 "tokenizer .*cut-tok.bin: truncated in piece 3 \\(byte offset 40\\): 5 bytes left" -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/text.txt" --tokenizer "$tmp/cut-tok.bin"
check ppl-vocab-mismatch 2 "tok.bin: has only 10 pieces, the model's vocab_size is 256" -- "$q" ref --model "$m" --perplexity "$tmp/text.txt" --tokenizer "$tmp/tok.bin"
check ppl-tokenizer-fifo 2 "tokenizer .*fifo.csv: not a regular file" -- timeout 20 "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/text.txt" --tokenizer "$tmp/fifo.csv"
: >"$tmp/empty.txt"
check ppl-empty-text 2 "empty.txt gives 1 token .*needs at least 2" -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/empty.txt" --tokenizer "$tmp/tok.bin"
check ppl-missing-text 2 "text .*none.txt: no such file" -- "$q" ref --checkpoint "$tmp/ppl.bin" --perplexity "$tmp/none.txt" --tokenizer "$tmp/tok.bin"
# ---- end of ref --perplexity --------------------------------------------------------------------

# ---- qaccel list formats (issue 13): the format table; a bad format name in a model file ------
check list-formats-mxfp4 0 "^  mxfp4 +int code +4 +fixed block of 32 +4\.25 " -- "$q" list formats
check list-formats-bitmod3 0 "^  bitmod3 +int code +3 +32/64/128/pc \(dflt 128\) +3\.265625 " -- "$q" list formats
check list-formats-act 0 "^  fp8e5m2 +binary16 +8 +FP8 E5M2" -- "$q" list formats
check list-formats-in-list 0 "^  nvfp4 +int code" -- "$q" list
check list-bad-section 2 "unknown section 'formatz' \(expected formats\)" -- "$q" list formatz
sed 's/weights: int8/weights: mxfp9/' "$m" >"$tmp/mxfp9.yaml"
check model-bad-format 2 "mxfp9\.yaml:[0-9]+:[0-9]+: model\.quant\.weights: found 'mxfp9'" -- "$q" validate "$tmp/mxfp9.yaml"
check ref-bad-format 2 "mxfp9\.yaml:[0-9]+:[0-9]+: model\.quant\.weights: found 'mxfp9'" -- "$q" ref --model "$tmp/mxfp9.yaml" --prompt-tokens 1
# ---- end of qaccel list formats ----------------------------------------------------------------

# ---- bit-serial PEs and run --quant -----------------------------------------------------------
sys_bm=$src/configs/systems/bitmod.yaml
wl32=$src/configs/workloads/decode-32.yaml
check run-bitmod-func 0 "verified: 240 ops bit-exact \(matmuls recomputed on bsu" -- "$q" run "$sys_bm" --model "$m" --quant bitmod4-g32 --workload "$wl32" --functional
check run-bitmod-mxfp4-a8 0 "verified: 240 ops bit-exact \(matmuls recomputed on bsu" -- "$q" run "$sys_bm" --model "$m" --quant mxfp4-a8 --workload "$wl32" --functional
check run-bitmod-fp16-falls-back 0 "verified" -- "$q" run "$sys_bm" --model "$m" --quant fp16 --workload "$wl32" --functional
check run-quant-bad 2 "quantization scheme 'mxfp9'" -- "$q" run "$sys_bm" --model "$m" --quant mxfp9 --workload "$wl32"
check run-quant-misfit 2 "--quant bitmod3-g128-kv16 does not fit model 'tiny'" -- "$q" run "$sys_bm" --model "$m" --quant bitmod3 --workload "$wl32"
# ---- end of bit-serial PEs ---------------------------------------------------------------------

# ---- qaccel rdu link (issue 15): the link calculator -------------------------------------------
check rdu-help 0 "^  link +one link" -- "$q" rdu --help
check rdu-no-sub 2 "give a subcommand" -- "$q" rdu
check rdu-bad-sub 2 "unknown subcommand 'lnk' \(did you mean 'link'\?\)" -- "$q" rdu lnk
check rdu-link-help 0 "--credit-latency" -- "$q" rdu link --help
# C=2, L=2, R=1: 2 vectors every 3 cycles; five vectors span cycles 0..8 (tests/test_rdu_link.cpp).
check rdu-link-five 0 "^total_cycles: 9$" -- "$q" rdu link --capacity 2 --latency 2 --credit-latency 1 --vectors 5
if [ "$(head -1 "$tmp/out")" = "vectors_per_cycle: 0.666667" ]; then
  pass=$((pass + 1))
else
  echo "FAIL rdu-link-first-line: $(head -1 "$tmp/out")"; fail=$((fail + 1))
fi
# A billion vectors at once: 4 vectors every max(4, 5 + 3) cycles, plus the first's latency.
check rdu-link-1e9 0 "^total_cycles: 2000000001$" -- "$q" rdu link --capacity 4 --latency 5 --credit-latency 3 --vectors 1e9
check rdu-link-slow-consumer 0 "^vectors_per_cycle: 0\.333333$" -- "$q" rdu link --capacity 4 --latency 2 --credit-latency 2 --consumer-interval 3
check rdu-link-json 0 "^  \"vectors_per_cycle\": 0\.500000,$" -- "$q" rdu link --capacity 1 --latency 1 --credit-latency 1 --json
# Stepping every vector and the fast-forward print the same figures (host timing aside).
"$q" rdu link --capacity 3 --latency 7 --credit-latency 2 --consumer-interval 2 --vectors 100003 | grep -v host >"$tmp/ff.txt"
"$q" rdu link --capacity 3 --latency 7 --credit-latency 2 --consumer-interval 2 --vectors 100003 --step | grep -v -e host -e simulated_vectors >"$tmp/step.txt"
if [ -s "$tmp/step.txt" ] && diff <(grep -v simulated_vectors "$tmp/ff.txt") "$tmp/step.txt" >/dev/null; then
  pass=$((pass + 1))
else
  echo "FAIL rdu-link-step-equals-ff"; diff "$tmp/ff.txt" "$tmp/step.txt" | head -5; fail=$((fail + 1))
fi
check rdu-link-capacity-0 2 "--capacity: must be >= 1 \(a link buffers at least one vector\), found 0" -- "$q" rdu link --capacity 0 --latency 1 --credit-latency 1
check rdu-link-negative-latency 2 "--latency: must be >= 1" -- "$q" rdu link --capacity 2 --latency=-3 --credit-latency 1
check rdu-link-negative-credit 2 "--credit-latency: must be >= 0" -- "$q" rdu link --capacity 2 --latency 1 --credit-latency=-1
check rdu-link-not-a-number 2 "--credit-latency: expected a whole number, found 'abc'" -- "$q" rdu link --capacity 2 --latency 1 --credit-latency abc
check rdu-link-fraction 2 "--vectors: expected a whole number, found '1.5'" -- "$q" rdu link --capacity 2 --latency 1 --credit-latency 1 --vectors 1.5
check rdu-link-k-0 2 "--consumer-interval: must be >= 1, found 0" -- "$q" rdu link --capacity 2 --latency 1 --credit-latency 1 --consumer-interval 0
check rdu-link-missing 2 "'--credit-latency' is required" -- "$q" rdu link --capacity 2 --latency 1
check rdu-link-step-too-long 2 "--vectors: must be <= 100000000" -- "$q" rdu link --capacity 2 --latency 1 --credit-latency 1 --vectors 2e8 --step
# ---- end of qaccel rdu link --------------------------------------------------------------------
# qaccel rdu map: both mappings of one layer, then the sections and tiers.
check rdu-map 0 "^layer \(fused\) +[0-9]+ " -- "$q" rdu map "$src/configs/systems/rdu-small.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml"
check rdu-map-simulated 0 " simulated_cycles +bound_cycles " -- "$q" rdu map "$src/configs/systems/rdu-small.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml"
check rdu-map-nodes 0 "^0 +L0\.wq\.mm0 +matmul_tile +pcu\([0-9]+,[0-9]+\) +[0-9]+ " -- "$q" rdu map "$src/configs/systems/rdu-small.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --nodes
check rdu-map-tiers 0 "^W.L0.wq +weight +(sram|hbm|ddr) " -- "$q" rdu map "$src/configs/systems/rdu-small.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml"
check rdu-map-no-rdu 2 "no unit with impl: rdu" -- "$q" rdu map "$src/configs/systems/edge-npu.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml"
check rdu-map-layer 2 "--layer must be in \[0, 1\]" -- "$q" rdu map "$src/configs/systems/rdu-small.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --layer 2
# The RDU in a run: every matmul recomputed on its lanes, bit for bit.
check rdu-run-functional 0 "verified: [0-9]+ ops bit-exact .* on rdu" -- "$q" run "$src/configs/systems/rdu-small.yaml" --model "$m" --workload "$src/configs/workloads/decode-32.yaml" --functional

# Runs go pass by pass: an error only a later pass meets (the activations' addresses outgrow a
# small DRAM) still exits 2 with the whole run's need, and the op-count limits name their cause.
mkdir -p "$tmp/mid/systems" "$tmp/mid/dram" "$tmp/mid/outdir"
sed "s#../tech/45nm.yaml#$src/configs/tech/45nm.yaml#; s#../dram/edge-lpddr5.yaml#../dram/small.yaml#" \
  "$src/configs/systems/edge-npu-dram.yaml" >"$tmp/mid/systems/s.yaml"
printf 'dram:\n  preset: LPDDR5-6400\n  mapping: RoBaRaCoCh\n  channels: 4\n  org: {rows: 64}\n' >"$tmp/mid/dram/small.yaml"
printf 'workload:\n  name: d60\n  phase: decode\n  context_len: 2\n  generated_tokens: 60\n' >"$tmp/mid/w60.yaml"
check run-later-pass-outgrows-dram 2 "memory.dram: the workload's tensors need [0-9]+ bytes of DRAM, the DRAM holds 8388608" -- "$q" run "$tmp/mid/systems/s.yaml" --model "$m" --workload "$tmp/mid/w60.yaml" --timing-only --json "$tmp/mid/o.json"
sed 's/seq_len: .*/seq_len: 32768/' "$src/configs/models/llama-2-7b.yaml" >"$tmp/mid/l7.yaml"
printf 'workload:\n  name: d20k\n  phase: decode\n  context_len: 1\n  generated_tokens: 20000\n' >"$tmp/mid/w20k.yaml"
# A run that fails leaves no output file, and an existing one as it was.
if [ ! -e "$tmp/mid/o.json" ]; then pass=$((pass + 1)); else echo "FAIL run-fails-no-output: $tmp/mid/o.json was left"; fail=$((fail + 1)); fi
echo "an earlier run's" >"$tmp/mid/old.json"
check run-fails-keeps-old-output 2 "tensors need [0-9]+ bytes of DRAM" -- "$q" run "$tmp/mid/systems/s.yaml" --model "$m" --workload "$tmp/mid/w60.yaml" --timing-only --json "$tmp/mid/old.json"
check run-fails-old-output-intact 0 "^an earlier run's$" -- cat "$tmp/mid/old.json"
# Outputs are written beside their paths and renamed: nothing partial is left in the directory.
check run-output-renamed 0 "^o.csv$" -- sh -c '"$0" run "$1" --timing-only --ops-csv "$2/o.csv" >/dev/null && ls "$2"' "$q" "$src/configs/default.yaml" "$tmp/mid/outdir"
check run-kept-records-limit 2 "10940000 ops to simulate, more than 10000000 with every op's record kept \(a sweep, --json" -- "$q" run "$src/configs/systems/datacenter.yaml" --model "$tmp/mid/l7.yaml" --workload "$tmp/mid/w20k.yaml" --timing-only --ops-csv "$tmp/mid/o.csv"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
