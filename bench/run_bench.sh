#!/bin/sh
# Aegis benchmark (see bench/README.md). Expects the release build: run `make build` first.
# All arguments go to run_bench.py, e.g.: bench/run_bench.sh --duration 5 --runs 1 --skip-load
exec /usr/bin/python3 "$(dirname "$0")/run_bench.py" "$@"
