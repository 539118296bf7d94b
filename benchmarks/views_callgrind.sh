#!/usr/bin/env bash
# Counts the instructions of each view loop and of its raw-pointer twin under
# valgrind --tool=callgrind and prints view/raw per layout (goal, -O2 and bounds checks off:
# <= 1.01). One callgrind run per kernel, counting only inside it (--toggle-collect).
#
# usage: benchmarks/views_callgrind.sh [driver-binary] [--max-ratio R] [--sizes SIDE2D SIDE3D]
#   Without a driver binary, builds benchmarks/views_callgrind_driver in build-views-callgrind/
#   (CXX picks the compiler). With --max-ratio, exits 1 if a ratio is above R.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
driver=""
max_ratio=""
side2d=256
side3d=40
while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-ratio) max_ratio="$2"; shift 2 ;;
    --sizes) side2d="$2"; side3d="$3"; shift 3 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) driver="$1"; shift ;;
  esac
done

command -v valgrind >/dev/null || { echo "views_callgrind.sh: valgrind not found" >&2; exit 2; }

if [[ -z "$driver" ]]; then
  build="$repo/build-views-callgrind"
  cmake -S "$repo" -B "$build" -DSHMARRAY_BUILD_TESTS=OFF -DSHMARRAY_BUILD_EXAMPLES=OFF \
        -DSHMARRAY_BUILD_TOOLS=OFF -DSHMARRAY_BUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$build" --target views_callgrind_driver -j2 >/dev/null
  driver="$build/benchmarks/views_callgrind_driver"
fi
[[ -x "$driver" ]] || { echo "views_callgrind.sh: no driver at $driver" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Instructions executed inside one kernel (inclusive), from callgrind's summary line.
count() {
  local kernel="$1" out="$work/$1.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$kernel" \
    "$driver" "$kernel" "$side2d" "$side3d" >/dev/null 2>"$work/$kernel.log" || {
    cat "$work/$kernel.log" >&2
    return 1
  }
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

status=0
printf '%-8s %-4s %14s %14s %8s\n' layout dims view_Ir raw_Ir ratio
for layout in right left stride; do
  for dims in 2d 3d; do
    v="$(count "view_sum_${dims}_${layout}")"
    r="$(count "raw_sum_${dims}_${layout}")"
    ratio="$(awk -v v="$v" -v r="$r" 'BEGIN { printf "%.4f", v / r }')"
    printf '%-8s %-4s %14s %14s %8s\n' "$layout" "$dims" "$v" "$r" "$ratio"
    if [[ -n "$max_ratio" ]] && awk -v x="$ratio" -v m="$max_ratio" 'BEGIN { exit !(x > m) }'; then
      echo "  ^ above the goal of $max_ratio" >&2
      status=1
    fi
  done
done
exit $status
