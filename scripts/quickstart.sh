#!/usr/bin/env bash
# The README's first command: install what is missing, build (Release, build/), and run the
# main job on the shipped default config, printing its report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build"
exec "$root/build/qaccel" run "$root/configs/default.yaml"
