#!/usr/bin/env bash
# The README's second command (and .ci/run's): install what is missing, build, run every test.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--sanitize" ]; then
  dir=$root/build-asan
  "$root/scripts/build.sh" "$dir" -DQACCEL_SANITIZE=ON -DQACCEL_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  dir=$root/build
  "$root/scripts/build.sh" "$dir"
fi
cd "$dir"
ctest --output-on-failure -j"$(nproc)"
