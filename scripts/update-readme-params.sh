#!/usr/bin/env bash
# Regenerates README.md's unit parameter tables (between <!-- params:begin --> and
# <!-- params:end -->) from `qaccel list --markdown`, i.e. from the parameter declarations.
# Usage: scripts/update-readme-params.sh [--check]
#   --check: change nothing; exit 1 with a diff when the README's block is stale (a ctest).
# The binary is $QACCEL, else build/qaccel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
q=${QACCEL:-$root/build/qaccel}
readme=$root/README.md
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
[ -x "$q" ] || { echo "$0: no qaccel binary at $q (build first, or set QACCEL)" >&2; exit 2; }
for m in '<!-- params:begin -->' '<!-- params:end -->'; do
  n=$(grep -cxF -- "$m" "$readme" || true)
  [ "$n" -eq 1 ] || { echo "$0: README.md must have exactly one line '$m' (has $n)" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$q" list --markdown >"$tmp/tables.md"
# Keep everything outside the markers; blank lines around the tables keep Markdown happy.
awk -v tables="$tmp/tables.md" '
  $0 == "<!-- params:begin -->" {
    print; print ""
    while ((getline line < tables) > 0) print line
    print ""; skip = 1; next
  }
  $0 == "<!-- params:end -->" { skip = 0 }
  !skip { print }
' "$readme" >"$tmp/README.md"

if [ "$check" -eq 1 ]; then
  if ! diff -u "$readme" "$tmp/README.md"; then
    echo "README.md's unit parameter tables differ from 'qaccel list --markdown';" \
         "run scripts/update-readme-params.sh" >&2
    exit 1
  fi
  echo "README.md's unit parameter tables are current"
elif cmp -s "$readme" "$tmp/README.md"; then
  echo "README.md already current"
else
  cp "$tmp/README.md" "$readme"
  echo "README.md updated"
fi
