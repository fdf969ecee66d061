#!/usr/bin/env bash
# Lists the GoogleTest tests that skipped themselves (GTEST_SKIP) in the last ctest
# run, with their reasons, and ends with one count line.
#
# ctest runs one process per test binary and shows a binary's output only when it
# fails, so a skip inside a passing binary would otherwise never be seen. A skip is
# kept only for a precondition no setup step can provide (e.g. an IPv6 loopback);
# a missing tool that scripts/setup.sh installs is a failure in the test instead.
#
#   scripts/gtest_skips.sh BUILD_DIR     (reads BUILD_DIR/Testing/Temporary/LastTest.log)
set -euo pipefail
log="${1:?usage: gtest_skips.sh BUILD_DIR}/Testing/Temporary/LastTest.log"
[ -f "$log" ] || { echo "unit: no ctest log at $log" >&2; exit 1; }
# GoogleTest prints "file:line: Skipped", the reason, then "[  SKIPPED ] Suite.Test (N ms)"
# (the closing "[  SKIPPED ] N tests, listed below:" summary lines have no "(N ms)").
awk '
  /: Skipped$/ { reason = ""; collecting = 1; next }
  /^\[  SKIPPED \] .* \([0-9]+ ms\)$/ {
    name = $4
    printf "unit: SKIPPED %s: %s\n", name, (reason == "" ? "(no reason given)" : reason)
    count++
    collecting = 0
    next
  }
  collecting { reason = (reason == "" ? $0 : reason " " $0) }
  END { printf "unit: %d GoogleTest test(s) skipped\n", count }
' "$log"
