#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_SECONDS each (default 30) from a copy of its
# seed corpus (new inputs never land in the source tree). Any crash, sanitizer
# report or failed invariant fails the run; the reproducer is kept in build/fuzz/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-30}
[ -f "$BUILD/fuzzers.txt" ] || { echo "fuzz: $BUILD/fuzzers.txt missing; run 'make fuzz'" >&2; exit 1; }
mkdir -p "$BUILD/crashes"
count=0
while read -r binary corpus; do
  [ -n "$binary" ] || continue
  name=$(basename "$binary")
  work=$(mktemp -d)
  cp -r "$corpus/." "$work/"
  echo "fuzz: $name for ${SECONDS_EACH}s ($(ls "$work" | wc -l) seeds)"
  if ! "$binary" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=4096 \
       -artifact_prefix="$BUILD/crashes/$name-" "$work" >"$BUILD/$name.log" 2>&1; then
    tail -40 "$BUILD/$name.log" >&2
    echo "fuzz: $name FAILED (log $BUILD/$name.log)" >&2
    rm -rf "$work"
    exit 1
  fi
  grep -E "^#[0-9]+.*DONE" "$BUILD/$name.log" | tail -1 || true
  rm -rf "$work"
  count=$((count + 1))
done <"$BUILD/fuzzers.txt"
[ "$count" -gt 0 ] || { echo "fuzz: no fuzzers built" >&2; exit 1; }
echo "fuzz: $count passed, 0 failed"
