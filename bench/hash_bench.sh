#!/bin/bash
# hash_bench.sh: how fast `aegis model sign` hashes a multi-GB model folder, from
# the page cache, against the tools an operator would otherwise reach for.
#
# Builds a folder of HASH_BENCH_FILES files totalling HASH_BENCH_GIB GiB of
# pseudo-random bytes in a temp dir, reads it twice to warm the page cache, then
# times, HASH_BENCH_ROUNDS rounds each, interleaved (a, b, c, a, b, c...) so that
# drift on a shared machine hits every tool alike:
#   aegis            aegis model sign DIR (files method, one thread per core)
#   sha256sum        sha256sum over the files, one process
#   sha256sum -P2    xargs -P2 -n1 sha256sum (one process per core)
#   openssl -P2      xargs -P2 -n1 openssl dgst -sha256 (the same SHA-256 code as
#                    Aegis, OpenSSL with SHA-NI; GNU sha256sum has its own, slower)
# and prints medians in GB/s (10^9 bytes) and the ratios; writes
# bench/results/hash.json. The whole sign is timed: process start-up, key load,
# walk, hashing, signing and the atomic bundle write. Start-up alone (`aegis
# --help`, dominated by the engines' static initialisers) is timed too, and
# "aegis_hashing" reports the throughput without it.
#
# Env: AEGIS_BIN (default build/release/src/cli/aegis), HASH_BENCH_GIB (4),
#      HASH_BENCH_FILES (8), HASH_BENCH_ROUNDS (5), TMPDIR (where the data goes),
#      HASH_BENCH_OUTPUT (default bench/results/hash.json).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
aegis="${AEGIS_BIN:-$repo/build/release/src/cli/aegis}"
gib="${HASH_BENCH_GIB:-4}"
files="${HASH_BENCH_FILES:-8}"
rounds="${HASH_BENCH_ROUNDS:-5}"
output="${HASH_BENCH_OUTPUT:-$here/results/hash.json}"

[ -x "$aegis" ] || { echo "hash_bench: aegis binary not found: $aegis (set AEGIS_BIN)" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/aegis-hash-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
model="$work/model"
mkdir -p "$model"

total_bytes=$((gib * 1024 * 1024 * 1024))
per_file=$((total_bytes / files))
echo "hash_bench: writing $files files, $gib GiB in all, under $work" >&2
for i in $(seq -w 1 "$files"); do
  # AES-CTR keystream: incompressible and far faster than /dev/urandom.
  # (openssl ends on SIGPIPE once head has enough: not an error, the size check is.)
  { openssl enc -aes-128-ctr -pass pass:aegis-bench -pbkdf2 -nosalt </dev/zero 2>/dev/null || true; } |
    head -c "$per_file" >"$model/shard-$i.bin"
  [ "$(stat -c %s "$model/shard-$i.bin")" -eq "$per_file" ] || { echo "hash_bench: cannot write data" >&2; exit 1; }
done
bytes=$((per_file * files))
cat "$model"/* >/dev/null
cat "$model"/* >/dev/null
"$aegis" model keygen --private-key "$work/key.pem" --public-key "$work/key.pub" >/dev/null

# "WALL CPU": seconds taken by the command given as arguments (output discarded)
# and the CPU seconds (user + system) its processes used. CPU time tells cost
# apart from contention on a shared machine. (Runs in the caller's <(...)
# subshell, so `times` counts exactly this command's children.)
cpu_of() { awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }
seconds() {
  local start end
  times >"$work/times0"  # a builtin: no fork, so it sees this shell's children
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  times >"$work/times1"
  awk -v s="$start" -v e="$end" -v a="$(cpu_of "$work/times0")" -v b="$(cpu_of "$work/times1")" \
    'BEGIN { printf "%.4f %.3f\n", e - s, b - a }'
}
run_aegis() { "$aegis" model sign "$model" --key "$work/key.pem" --output "$work/model.sig" --force; }
run_sha() { sha256sum "$model"/*; }
run_sha_p2() { printf '%s\0' "$model"/* | xargs -0 -P2 -n1 sha256sum; }
run_openssl_p2() { printf '%s\0' "$model"/* | xargs -0 -P2 -n1 openssl dgst -sha256; }
run_startup() { "$aegis" --help; }

tools=(aegis sha256sum sha256sum_p2 openssl_p2 startup)
declare -A samples cpu_samples
for round in $(seq 1 "$rounds"); do
  for tool in "${tools[@]}"; do
    case $tool in
      aegis) read -r t c < <(seconds run_aegis) ;;
      sha256sum) read -r t c < <(seconds run_sha) ;;
      sha256sum_p2) read -r t c < <(seconds run_sha_p2) ;;
      openssl_p2) read -r t c < <(seconds run_openssl_p2) ;;
      startup) read -r t c < <(seconds run_startup) ;;
    esac
    samples[$tool]+="$t "
    cpu_samples[$tool]+="$c "
    echo "hash_bench: round $round $tool ${t}s (cpu ${c}s)" >&2
  done
done
"$aegis" model verify "$model" --bundle "$work/model.sig" --public-key "$work/key.pub" >/dev/null

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
gbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.3f", b / 1e9 / s }'; }
declare -A med rate cpu
for tool in "${tools[@]}"; do
  med[$tool]=$(echo "${samples[$tool]}" | median)
  rate[$tool]=$(gbps "${med[$tool]}")
  cpu[$tool]=$(echo "${cpu_samples[$tool]}" | median)
done
hashing_seconds=$(awk -v a="${med[aegis]}" -v s="${med[startup]}" 'BEGIN { printf "%.4f", a - s }')
hashing_rate=$(gbps "$hashing_seconds")
ratio() { awk -v a="${rate[aegis]}" -v b="${rate[$1]}" 'BEGIN { printf "%.2f", a / b }'; }

printf '%-14s %10s %10s %12s\n' tool "median s" "GB/s" "median cpu s"
for tool in aegis sha256sum sha256sum_p2 openssl_p2; do
  printf '%-14s %10s %10s %12s\n' "$tool" "${med[$tool]}" "${rate[$tool]}" "${cpu[$tool]}"
done
printf '%-14s %10s %10s %12s\n' "aegis start-up" "${med[startup]}" "-" "${cpu[startup]}"
printf '%-14s %10s %10s\n' "aegis hashing" "$hashing_seconds" "$hashing_rate"
echo "aegis / sha256sum = $(ratio sha256sum)x, / sha256sum -P2 = $(ratio sha256sum_p2)x, / openssl -P2 = $(ratio openssl_p2)x"

json_list() { echo "$1" | awk '{ printf "["; for (i = 1; i <= NF; i++) printf "%s%s", (i > 1 ? ", " : ""), $i; printf "]" }'; }
mkdir -p "$(dirname "$output")"
cat >"$output" <<EOF
{
  "benchmark": "hash_bench.sh",
  "timestamp": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "host": {"cores": $(nproc), "cpu": "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)",
           "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)"},
  "data": {"bytes": $bytes, "files": $files, "page_cache": "warm"},
  "rounds": $rounds,
  "aegis_bin": "$aegis",
  "median_seconds": {"aegis": ${med[aegis]}, "sha256sum": ${med[sha256sum]}, "sha256sum_p2": ${med[sha256sum_p2]},
                     "openssl_p2": ${med[openssl_p2]}, "aegis_startup": ${med[startup]},
                     "aegis_hashing": $hashing_seconds},
  "median_gbps": {"aegis": ${rate[aegis]}, "sha256sum": ${rate[sha256sum]}, "sha256sum_p2": ${rate[sha256sum_p2]},
                  "openssl_p2": ${rate[openssl_p2]}, "aegis_hashing": $hashing_rate},
  "median_cpu_seconds": {"aegis": ${cpu[aegis]}, "sha256sum": ${cpu[sha256sum]}, "sha256sum_p2": ${cpu[sha256sum_p2]},
                         "openssl_p2": ${cpu[openssl_p2]}, "aegis_startup": ${cpu[startup]}},
  "ratio": {"aegis_vs_sha256sum": $(ratio sha256sum), "aegis_vs_sha256sum_p2": $(ratio sha256sum_p2),
            "aegis_vs_openssl_p2": $(ratio openssl_p2)},
  "samples_seconds": {"aegis": $(json_list "${samples[aegis]}"), "sha256sum": $(json_list "${samples[sha256sum]}"),
                      "sha256sum_p2": $(json_list "${samples[sha256sum_p2]}"),
                      "openssl_p2": $(json_list "${samples[openssl_p2]}"),
                      "aegis_startup": $(json_list "${samples[startup]}")}
}
EOF
echo "hash_bench: wrote $output" >&2
