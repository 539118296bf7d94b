#!/usr/bin/env bash
# User-space instructions per shared_array<double>::attach, attach_unsafe and allocate of a small
# (16-element) published float64 segment, under valgrind --tool=callgrind, counting only inside
# the driver's measured_* function (--toggle-collect), averaged over N calls.
#
# usage: benchmarks/attach_callgrind.sh [driver-binary] [-n N]
#   The driver: e.g. build-dev/benchmarks/attach_callgrind_driver (benchmarks/attach.cmake).
#   Without one, compiles benchmarks/attach_callgrind_driver.cpp with ${CXX:-g++} -O2 against
#   this tree's include/ into a temporary folder (so it also measures an old checkout:
#   git worktree add /tmp/old <rev> && cp benchmarks/attach_callgrind* /tmp/old/benchmarks/).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
driver=""
n=500
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) n="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) driver="$1"; shift ;;
  esac
done
command -v valgrind >/dev/null || { echo "attach_callgrind.sh: valgrind not found" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ -z "$driver" ]]; then
  driver="$work/attach_callgrind_driver"
  "${CXX:-g++}" -std=c++17 -O2 -g -DNDEBUG -I"$repo/include" "$here/attach_callgrind_driver.cpp" \
    -o "$driver" -pthread -lrt
fi
[[ -x "$driver" ]] || { echo "attach_callgrind.sh: no driver at $driver" >&2; exit 2; }

count() {
  local what="$1" out="$work/$1.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="measured_$what" \
    "$driver" "$what" "$n" >/dev/null 2>"$work/$what.log" || { cat "$work/$what.log" >&2; return 1; }
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

printf '%-14s %12s %8s\n' call total_Ir per_call
for what in attach attach_unsafe allocate; do
  t="$(count "$what")"
  printf '%-14s %12s %8s\n' "$what" "$t" "$(awk -v t="$t" -v n="$n" 'BEGIN { printf "%.0f", t / n }')"
done
