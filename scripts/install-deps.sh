#!/usr/bin/env bash
# Installs the Debian 12 packages qaccel needs, only those missing. Uses apt-get as root, or
# through sudo otherwise. Safe to run repeatedly: prints what it checks and what it installs.
#   scripts/install-deps.sh          what the build and the tests need
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer (scripts/fuzz.sh)
set -euo pipefail

packages=(
  cmake make g++ pkg-config            # toolchain
  libsystemc-dev                       # SystemC 2.3.4 (found with pkg-config)
  libboost-program-options-dev         # command line
  libyaml-cpp-dev                      # configs
  libsqlite3-dev sqlite3               # results database (and its command-line shell)
  libgtest-dev googletest              # tests
  libxml2-utils                        # tests: xmllint checks the SVG charts are well-formed
  libbenchmark-dev                     # bench/
  slurm-wlm munge                      # tests/slurm_test.sh: a private one-node Slurm cluster
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-14 libclang-rt-14-dev)  # -fsanitize=fuzzer (libFuzzer ships in compiler-rt)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present" >&2
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >&2
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
echo "install-deps: done" >&2
