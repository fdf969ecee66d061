#!/usr/bin/env bash
# Lint: clang-format in check mode over every tracked C++ file, then clang-tidy (the
# checks in .clang-tidy) over every translation unit of the release build's compile
# database. Any finding fails the run (exit 1) and is printed with its file and check.
#
#   scripts/lint.sh            both steps (what `make lint` and `make test` run)
#   scripts/lint.sh format     clang-format check only
#   scripts/lint.sh tidy       clang-tidy only
#   scripts/lint.sh tidy src/http bench/audit_bench.cc   clang-tidy on the units under these paths
#   scripts/lint.sh tidy --production   clang-tidy on the production units only (what `make
#                              test` runs): not tests, test helpers, benchmarks or fuzz targets
#
# Needs build/release/compile_commands.json and the generated dashboard source
# (`make tidy` and `make lint` make both: cmake, then `ninja aegis_dashboard_assets`).
# Runs JOBS units at once (default: all cores).
#
# The project compiles with g++, clang-tidy parses with clang: the database is
# rewritten into build/lint/ (see make_database below). Fuzz targets are built only by
# the clang fuzz build, so they get the compile command of a library file of their
# own module; every tracked .cc is checked.
#
# Cache: a unit that passed is remembered in build/lint/cache under a hash of its
# preprocessed source (comments kept, so a removed NOLINT counts), its compile
# command, .clang-tidy, this script and the clang-tidy version. A rerun on an
# unchanged tree only preprocesses. Failures are never cached.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy-14}
CLANGXX=${CLANGXX:-clang++-14}
PYTHON=${PYTHON:-/usr/bin/python3}
RELEASE_DB=build/release/compile_commands.json
OUT=${LINT_OUT:-build/lint}
STEP=${1:-all}
shift || true
PRODUCTION=0
if [ "${1:-}" = --production ]; then
  PRODUCTION=1
  shift
fi
ONLY=("$@")  # path prefixes: check only the units under them
# Units that are not production code: unit tests, the shared test helpers, the
# black-box test tools, benchmarks and fuzz targets (paths relative to the tree).
NOT_PRODUCTION='(_test|_fuzz|_bench)\.cc$|^src/[^/]+/(testing/|test_)|^(tests|bench)/'

case "$STEP" in
  all | format | tidy) ;;
  *) echo "usage: $0 [format|tidy [--production] [PATH...]]" >&2; exit 2 ;;
esac
for tool in "$CLANG_FORMAT" "$CLANG_TIDY" "$CLANGXX" "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found (run 'make deps')" >&2; exit 1; }
done
mkdir -p "$OUT"

tracked_sources() {  # every C++ file of ours, NUL-separated
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -- '*.h' '*.cc'
  else
    find include src bench -type f \( -name '*.h' -o -name '*.cc' \) -print0
  fi
}

# --- clang-format --------------------------------------------------------------------
check_format() {
  local log=$OUT/format.log count
  count=$(tracked_sources | tr -cd '\0' | wc -c)
  if tracked_sources | xargs -0 -r -P "$JOBS" -n 16 "$CLANG_FORMAT" --dry-run --Werror >"$log" 2>&1; then
    echo "format: $count files clean"
    return 0
  fi
  cat "$log" >&2
  echo "format: FAILED; files that differ from .clang-format (fix with 'make format'):" >&2
  grep -oE '^[^: ]+:[0-9]+:[0-9]+: error' "$log" | cut -d: -f1 | sort -u | sed 's/^/  /' >&2
  return 1
}

# --- clang-tidy ----------------------------------------------------------------------
# Writes $OUT/compile_commands.json (what clang-tidy reads) and $OUT/units.tsv: per
# unit, the source, its extra checks and the shell command that preprocesses it for
# the cache key.
make_database() {
  "$PYTHON" - "$RELEASE_DB" "$OUT" "$CLANGXX" <<'PY'
import json, os, re, shlex, subprocess, sys

release_db, out, clangxx = sys.argv[1:4]
root = os.getcwd()
entries = json.load(open(release_db))

# Flags clang does not know or that would turn its own warnings into errors: the
# g++ build already enforces -Wall -Wextra -Werror; the lint verdict is .clang-tidy's.
GCC_ONLY = re.compile(r"^(-Werror|-Werror=.*|-fconcepts-diagnostics-depth=.*|-fno-canonical-system-headers"
                      r"|-Wno-restrict|-Wrestrict|-Wno-stringop-.*|-Wno-maybe-uninitialized|-Wno-dangling-reference"
                      r"|-fno-semantic-interposition|-fmodules-ts)$")

def args_of(entry):
    return entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])

def clean(args, source):
    kept, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = a == "-o"
            continue
        if a == source or GCC_ONLY.match(a):
            continue
        kept.append(a)
    return kept

# ExtraArgs of .clang-tidy change what clang-tidy parses (e.g. -D), so the cache key's
# preprocessing uses them too. The list must stay on one line.
extra = []
m = re.search(r"^ExtraArgs:\s*\[(.*)\]\s*$", open(".clang-tidy").read(), re.M)
if m:
    extra = [a.strip().strip("'\"") for a in m.group(1).split(",") if a.strip()]

units = {}
for e in entries:
    src = os.path.normpath(os.path.join(e["directory"], e["file"]))
    units[src] = (e["directory"], clean(args_of(e), e["file"]))

def union_flags(commands):
    """The first command's flags plus every include path and define of the others."""
    directory, flags = commands[0]
    flags = list(flags)
    for _, other in commands[1:]:
        i = 0
        while i < len(other):
            a = other[i]
            pair = a in ("-isystem", "-I", "-D") and i + 1 < len(other)
            item = other[i:i + 2] if pair else [a]
            i += len(item)
            if item[0].startswith(("-I", "-isystem", "-D")) and not any(
                    flags[j:j + len(item)] == item for j in range(len(flags))):
                flags[-1:-1] = item  # before the source-independent tail, order kept
    return directory, flags

# Tracked sources with no compile command (the fuzz targets, built only by the clang
# fuzz build): the flags of the files in the same folder, with all their include paths.
tracked = subprocess.run(["git", "ls-files", "--", "*.cc"], capture_output=True, text=True).stdout.split()
missing, borrowed = [], {}
for rel in tracked:
    src = os.path.join(root, rel)
    if src in units:
        continue
    folder = os.path.dirname(src)
    siblings = sorted((s for s in units if os.path.dirname(s) == folder and s not in borrowed),
                      key=lambda s: (s.endswith("_test.cc"), s))
    if not siblings:
        missing.append(rel)
        continue
    borrowed[src] = union_flags([units[s] for s in siblings])
units.update(borrowed)
if missing:
    sys.exit("lint: no compile command for " + ", ".join(missing))

# Units that need their own compiler flags or checks: what, and why. Printed on every
# run: a workaround is never silent.
UNIT_FLAGS = {
    "src/runtime/torchscript_backend.cc": (
        ["-D_GLIBCXX20_CONSTEXPR=", "-D_GLIBCXX_USE_CXX11_ABI=0"],
        "libtorch 1.13's headers use std::vector<c10::IValue> while IValue is incomplete; clang "
        "instantiates libstdc++'s C++20 constexpr vector members at once (g++ defers them), so this "
        "unit is parsed with that constexpr off and the old string ABI (its string is not constexpr)"),
}
UNIT_CHECKS = {
    "src/runtime/torchscript_backend.cc": (
        "-bugprone-forward-declaration-namespace",
        "libtorch's ATen/core/blob.h forward-declares caffe2::Tensor, which this unit never defines, "
        "and our aegis::runtime::Tensor is in sight: a finding in a system header no NOLINT can reach"),
}
for rel, (flags, why) in UNIT_FLAGS.items():
    src = os.path.join(root, rel)
    if src in units:
        directory, unit_flags = units[src]
        units[src] = (directory, unit_flags + flags)
        print(f"tidy: {rel} is parsed with {' '.join(flags)}: {why}")
for rel, (checks, why) in UNIT_CHECKS.items():
    if os.path.join(root, rel) in units:
        print(f"tidy: {rel} is checked with {checks}: {why}")
checks_of = {os.path.join(root, rel): checks for rel, (checks, _) in UNIT_CHECKS.items()}

db, tsv = [], []
for src, (directory, flags) in sorted(units.items()):
    db.append({"directory": directory, "file": src, "arguments": [clangxx] + flags + ["-c", src]})
    pp = [clangxx] + flags + extra + ["-E", "-C", src]
    # Fields: source, extra --checks for clang-tidy ("none"), preprocessing command.
    tsv.append(src + "\t" + checks_of.get(src, "none") + "\t" + "cd " + shlex.quote(directory) + " && " +
               shlex.join(pp))
json.dump(db, open(os.path.join(out, "compile_commands.json"), "w"), indent=1)
open(os.path.join(out, "units.tsv"), "w").write("\n".join(tsv) + "\n")
PY
}

# One unit (source, extra checks, preprocessing command): prints "cached", "ok" or
# "FAIL", the source and clang-tidy's CPU seconds; the findings go to a log.
tidy_unit() {
  local src=$1 checks=$2 pp=$3 key="" name log pre args=()
  [ "$checks" = none ] || args=("--checks=$checks")  # added to .clang-tidy's Checks
  name=$(printf '%s' "${src#"$PWD"/}" | tr '/' '_')
  log=$OUT/logs/$name.log
  pre=$OUT/tmp/$name.i
  # If preprocessing fails there is no key: clang-tidy will say why, and nothing is cached.
  if bash -c "$pp" >"$pre" 2>/dev/null; then
    key=$( { printf '%s\n%s\n%s\n' "$TOOL_KEY" "$checks" "$pp"; cat "$pre"; } | sha256sum)
    key=${key%% *}
    # The files the unit reads (line markers), to find headers that no unit checks.
    grep -aoE '^# [0-9]+ "[^"<]+"' "$pre" | cut -d'"' -f2 | sort -u >"$OUT/includes/$name.txt"
  fi
  rm -f "$pre"
  if [ -n "$key" ] && [ -e "$OUT/cache/$key" ]; then
    echo "cached $src"
    return 0
  fi
  local TIMEFORMAT='%U %S'
  if { time "$CLANG_TIDY" -p "$OUT" --quiet "${args[@]}" "$src" >"$log" 2>&1; } 2>"$log.time"; then
    [ -n "$key" ] && : >"$OUT/cache/$key"
    echo "ok $src $(awk '{ printf "%.1f", $1 + $2 }' "$log.time")"
  else
    echo "FAIL $src $(awk '{ printf "%.1f", $1 + $2 }' "$log.time")"
  fi
}

check_tidy() {
  [ -f "$RELEASE_DB" ] || { echo "tidy: $RELEASE_DB missing; run 'make build' first" >&2; return 1; }
  make_database
  rm -rf "$OUT/logs" "$OUT/includes" "$OUT/tmp"
  mkdir -p "$OUT/cache" "$OUT/logs" "$OUT/includes" "$OUT/tmp"
  TOOL_KEY=$( { "$CLANG_TIDY" --version; cat .clang-tidy "$0"; } | sha256sum)
  export TOOL_KEY OUT CLANG_TIDY
  export -f tidy_unit

  local start=$SECONDS results=$OUT/results.txt units=$OUT/units.tsv total prefix
  if [ ${#ONLY[@]} -gt 0 ]; then
    units=$OUT/units.only.tsv
    : >"$units"
    for prefix in "${ONLY[@]}"; do
      awk -F'\t' -v p="$PWD/${prefix#./}" 'index($1, p) == 1' "$OUT/units.tsv" >>"$units"
    done
  fi
  if [ "$PRODUCTION" -eq 1 ]; then
    NOT_PRODUCTION=$NOT_PRODUCTION ROOT=$PWD/ awk -F'\t' '{
      rel = $1
      if (index(rel, ENVIRON["ROOT"]) == 1) rel = substr(rel, length(ENVIRON["ROOT"]) + 1)
      if (rel !~ ENVIRON["NOT_PRODUCTION"]) print
    }' "$units" >"$OUT/units.production.tsv"
    echo "tidy: production units only: $(wc -l <"$OUT/units.production.tsv") of $(wc -l <"$units") (make lint checks all)"
    units=$OUT/units.production.tsv
  fi
  total=$(wc -l <"$units")
  [ "$total" -gt 0 ] || { echo "tidy: no unit under ${ONLY[*]}" >&2; return 1; }
  echo "tidy: $total units, $JOBS at a time"
  tr '\n' '\0' <"$units" |
    xargs -0 -r -P "$JOBS" -I{} bash -c 'IFS=$'"'\t'"' read -r src checks pp <<<"$1"; tidy_unit "$src" "$checks" "$pp"' _ {} |
    tee "$results" | grep '^FAIL' || true

  local cached ok failed
  cached=$(grep -c '^cached' "$results" || true)
  ok=$(grep -c '^ok' "$results" || true)
  failed=$(grep -c '^FAIL' "$results" || true)
  if [ "$failed" -gt 0 ]; then
    # Header findings repeat in every unit that includes the header: print each once.
    grep '^FAIL' "$results" | cut -d' ' -f2 | while read -r src; do
      cat "$OUT/logs/$(printf '%s' "${src#"$PWD"/}" | tr '/' '_').log"
    done | "$PYTHON" -c '
import re, sys
head = re.compile(r"^\S+:\d+:\d+: (warning|error): ")
noise = re.compile(r"^(\d+ (warning|error)s? (and \d+ (warning|error)s? )?generated\.|Error while processing .*)$")
seen, block, blocks = set(), [], []
for line in sys.stdin:
    line = line.rstrip("\n")
    if noise.match(line):
        continue
    if head.match(line) and block:
        blocks.append(block); block = []
    block.append(line)
if block:
    blocks.append(block)
for b in blocks:
    if b[0] not in seen:
        seen.add(b[0]); print("\n".join(b))
print(f"tidy: {len(seen)} distinct findings", file=sys.stderr)
' >&2
  fi
  if [ $((ok + failed)) -gt 0 ]; then
    echo "tidy: slowest: $(grep -v '^cached' "$results" | sort -k3 -rn | head -3 | awk '{ sub(".*/", "", $2); printf "%s %ss  ", $2, $3 }')"
    echo "tidy: clang-tidy CPU time: $(awk '!/^cached/ { s += $3 } END { printf "%d", s }' "$results") s"
  fi
  echo "tidy: $total units: $cached cached, $ok checked clean, $failed failed ($((SECONDS - start)) s)"
  [ "$total" -eq $((cached + ok + failed)) ] || { echo "tidy: some units did not report" >&2; return 1; }
  # clang-tidy sees a header only through a unit that includes it.
  local unchecked
  # A partial run (paths, or production units only, which leave out the test headers)
  # cannot tell.
  [ ${#ONLY[@]} -eq 0 ] && [ "$PRODUCTION" -eq 0 ] || { [ "$failed" -eq 0 ]; return; }
  unchecked=$(tracked_sources | tr '\0' '\n' | grep '\.h$' | "$PYTHON" -c '
import os, sys
seen = set()
for name in os.listdir(sys.argv[1]):
    seen.update(os.path.realpath(l.strip()) for l in open(os.path.join(sys.argv[1], name)))
for h in sys.stdin.read().split():
    if os.path.realpath(h) not in seen:
        print(h)
' "$OUT/includes")
  if [ -n "$unchecked" ]; then
    echo "tidy: no unit includes these headers, so nothing checks them (include or remove them):" >&2
    printf '  %s\n' $unchecked >&2
    return 1
  fi
  [ "$failed" -eq 0 ]
}

status=0
if [ "$STEP" != tidy ]; then check_format || status=1; fi
if [ "$STEP" != format ]; then check_tidy || status=1; fi
exit $status
