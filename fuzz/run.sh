#!/usr/bin/env bash
# Builds the `fuzz` preset and runs each libFuzzer target for SECONDS/2 on a copy of its seed
# corpus, then prints the executions and crashes of each. Exits non-zero on any crash.
# Usage: bash fuzz/run.sh [SECONDS]   (default 60: about a minute in all)
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
per=$((seconds / 2))
[ "$per" -ge 1 ] || per=1

cmake --preset fuzz >/dev/null && cmake --build --preset fuzz || {
  echo "fuzz: build failed"
  exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/shmarray-fuzz.XXXXXX")
segment="shmarray-fuzz-run-$$"
cleanup() {
  rm -f "/dev/shm/$segment"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

status=0
total=0
for fuzzer in npy_header attach; do
  bin="build-fuzz/fuzz/fuzz_$fuzzer"
  mkdir -p "$work/$fuzzer/corpus" "$work/$fuzzer/artifacts"
  cp fuzz/corpus/"$fuzzer"/* "$work/$fuzzer/corpus/" 2>/dev/null || true
  log="$work/$fuzzer/log"
  SHMARRAY_FUZZ_SEGMENT="$segment" "$bin" "$work/$fuzzer/corpus" \
    -max_total_time="$per" -print_final_stats=1 -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/$fuzzer/artifacts/" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  execs=${execs:-0}
  crashes=$(find "$work/$fuzzer/artifacts" -type f | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  total=$((total + execs))
  echo "fuzz_$fuzzer: $execs executions in ${per} s, $crashes crashes (exit $rc)"
  if [ "$crashes" -ne 0 ]; then
    status=1
    grep -E 'ERROR|invariant|SUMMARY|==[0-9]+==' "$log" | head -20
    for f in "$work/$fuzzer/artifacts"/*; do
      [ -f "$f" ] || continue
      mkdir -p build-fuzz/crashes && cp "$f" build-fuzz/crashes/ && echo "  kept build-fuzz/crashes/$(basename "$f")"
    done
  fi
done
echo "fuzz: $total executions in all"
exit $status
