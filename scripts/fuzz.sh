#!/usr/bin/env bash
# Runs the libFuzzer harnesses (tests/fuzz/) for a while each and adds the inputs that reach
# new code to their corpora in tests/fuzz/<target>/ (ctest replays those on every run).
#   scripts/fuzz.sh [SECONDS] [TARGET...]    default 60 s each, every target
# Builds with clang + ASan + UBSan into build-fuzz/ (installs clang first if missing). Crashes,
# timeouts and out-of-memory inputs do not stop a run: each is saved to build-fuzz/findings/
# <target>/ (or $FUZZ_FINDINGS/<target>/) and listed at the end; they are bugs to fix, and never
# go into the corpus.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
case $seconds in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
all=(config sweep expr layers_csv checkpoint dram_trace tokenizer)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
dir=$root/build-fuzz
findings=${FUZZ_FINDINGS:-$dir/findings}

"$root/scripts/install-deps.sh" --fuzz
cmake -S "$root" -B "$dir" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
  -DQACCEL_FUZZ=ON -DQACCEL_BUILD_TESTS=OFF -DQACCEL_BUILD_BENCH=OFF >&2
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >&2

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
# The harnesses' scratch folders: libFuzzer's child processes end without running atexit.
export TMPDIR=$dir/tmp
for t in "${targets[@]}"; do
  corpus=$root/tests/fuzz/$t
  [ -d "$corpus" ] || { echo "fuzz.sh: no target '$t' (known: ${all[*]})" >&2; exit 2; }
  work=$dir/corpus/$t
  mkdir -p "$work" "$findings/$t" "$TMPDIR"
  echo "== $t: ${seconds}s" >&2
  # fork mode with ignore_*: one finding does not end the run; each is saved as an artifact.
  "$dir/tests/fuzz/fuzz_$t" "$work" "$corpus" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/$t/" -print_final_stats=1 2>"$dir/fuzz-$t.log" || true
  tail -3 "$dir/fuzz-$t.log" >&2
  # Only inputs that add coverage join the checked-in corpus (crashing ones never do).
  before=$(find "$corpus" -type f | wc -l)
  "$dir/tests/fuzz/fuzz_$t" -merge=1 -timeout=10 -rss_limit_mb=2048 "$corpus" "$work" \
    2>>"$dir/fuzz-$t.log" || true
  after=$(find "$corpus" -type f | wc -l)
  rm -rf "$TMPDIR"
  echo "$t: corpus $before -> $after inputs; findings: $(find "$findings/$t" -type f | wc -l) in $findings/$t" >&2
done
