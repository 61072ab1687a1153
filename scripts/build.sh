#!/usr/bin/env bash
# Configures and builds qaccel. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Default: Release into build/. Installs missing packages first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >&2
cmake --build "$dir" -j"$(nproc)" >&2
