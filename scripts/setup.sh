#!/usr/bin/env bash
# Installs the Debian 12 packages Aegis needs to build, test, demo and benchmark.
# Idempotent: when everything is present it does nothing; otherwise it runs
# `apt-get update` first and installs only what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # fuzzing (libFuzzer)
  clang-14 libclang-rt-14-dev
  # make lint / make format (scripts/lint.sh)
  clang-tidy-14 clang-format-14
  # libraries (what each is for: docs/design.md, "Third-party libraries")
  libssl-dev libboost-dev libsimdjson-dev libtomlplusplus-dev libcli11-dev libspdlog-dev
  # the PostgreSQL store (libpq) and the PostgreSQL 15 server its tests start
  libpq-dev postgresql-15
  # the scale-out test: three replicas behind a real load balancer
  haproxy
  nlohmann-json3-dev libsqlite3-dev libargon2-dev zlib1g-dev libqrencode-dev
  # audit: sealed segments compressed with zstd (zstd: the tests' independent checker reads them)
  libzstd-dev zstd
  # confinement of engine workers (seccomp-bpf)
  libseccomp-dev
  # metrics: prometheus-cpp (core) for the exposition, prometheus for `promtool check metrics`,
  # `promtool check rules` and `promtool test rules` in tests (python3-yaml reads the rules)
  prometheus-cpp-dev prometheus python3-yaml
  # engines
  libopencv-dnn-dev libtorch-dev libxgboost-dev
  # tests, sample models, benchmark
  libgtest-dev python3 python3-pytest python3-requests python3-numpy python3-torch python3-xgboost
  python3-onnx python3-cryptography python3-jwt python3-fastapi uvicorn wrk curl openssl ca-certificates
  # docs/openapi.yaml checked against real responses (JSON Schema draft 2020-12)
  python3-jsonschema
  # ONNX conformance: the ONNX node test models the ONNX Runtime worker must pass
  libonnx-testdata
  # systemd-analyze verify of deploy/systemd/aegis.service (tests/integration/test_cli_init.py)
  systemd
  # dashboard browser test: a real browser, node for playwright-core (tests/browser), certutil to
  # trust the test installation's CA in the browser's NSS database; node also hosts the ONNX
  # Runtime engine worker (runtime/onnxruntime)
  chromium libnss3-tools nodejs
)

# npm comes with nodejs from some sources and as its own package from Debian; ask for the
# package only when there is no npm at all (Debian's would conflict with a bundled one).
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
