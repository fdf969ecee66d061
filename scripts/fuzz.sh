#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_SECONDS each (default 20) from a copy of its
# seed corpus (new inputs never land in the source tree), FUZZ_JOBS at a time
# (default: one per core; a fuzzer is single-threaded). Any crash, sanitizer report
# or failed invariant fails the run; the reproducer is kept in build/fuzz/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/fuzz
export SECONDS_EACH=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-$(nproc)}
[ -f "$BUILD/fuzzers.txt" ] || { echo "fuzz: $BUILD/fuzzers.txt missing; run 'make fuzz'" >&2; exit 1; }
mkdir -p "$BUILD/crashes" "$BUILD/results"
rm -f "$BUILD"/results/*

# One fuzzer: prints its summary (or its log's tail on failure) in one piece, so
# the output of fuzzers running side by side does not interleave.
fuzz_one() {
  local binary=$1 corpus=$2 name work status=0 report
  name=$(basename "$binary")
  work=$(mktemp -d)
  cp -r "$corpus/." "$work/"
  report="fuzz: $name for ${SECONDS_EACH}s ($(ls "$work" | wc -l) seeds)"
  if "$binary" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=4096 \
       -artifact_prefix="$BUILD/crashes/$name-" "$work" >"$BUILD/$name.log" 2>&1; then
    report+=$'\n'"$(grep -E "^#[0-9]+.*DONE" "$BUILD/$name.log" | tail -1 || true)"
    : >"$BUILD/results/$name.ok"
  else
    report+=$'\n'"$(tail -40 "$BUILD/$name.log")"$'\n'"fuzz: $name FAILED (log $BUILD/$name.log)"
    status=1
  fi
  rm -rf "$work"
  printf '%s\n' "$report"
  return $status
}
export -f fuzz_one
export BUILD

count=$(grep -c . "$BUILD/fuzzers.txt" || true)
[ "$count" -gt 0 ] || { echo "fuzz: no fuzzers built" >&2; exit 1; }
echo "fuzz: $count fuzzers, $JOBS at a time"
status=0
grep . "$BUILD/fuzzers.txt" | xargs -r -P "$JOBS" -L 1 bash -c 'fuzz_one "$@"' _ || status=1
passed=$(ls "$BUILD/results" | wc -l)
echo "fuzz: $passed passed, $((count - passed)) failed"
[ "$status" -eq 0 ] && [ "$passed" -eq "$count" ]
