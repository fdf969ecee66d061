#!/usr/bin/env bash
# `make demo`: a fresh installation in ./demo, the sample models pushed, the server
# running in the background on 127.0.0.1:8443 (data) and 127.0.0.1:9443 (control).
set -euo pipefail
cd "$(dirname "$0")/.."

AEGIS="$PWD/build/release/src/cli/aegis"
DEMO="$PWD/demo"
DATA="$DEMO/data"
PY=/usr/bin/python3

[ -x "$AEGIS" ] || { echo "demo: $AEGIS is missing; run 'make build'" >&2; exit 1; }

# Stop a previous demo server and start from a clean installation: the admin token
# is shown once and never written to disk, so an old installation can't be reused.
if [ -f "$DEMO/server.pid" ] && kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null; then
  kill -TERM "$(cat "$DEMO/server.pid")"
  for _ in $(seq 50); do kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"

init_json=$("$AEGIS" init --data-dir "$DATA" --json)
TOKEN=$(printf '%s' "$init_json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["admin_token"])')
CA=$(printf '%s' "$init_json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["ca_cert"])')

"$AEGIS" serve --data-dir "$DATA" >"$DEMO/server.log" 2>&1 &
echo $! >"$DEMO/server.pid"
for _ in $(seq 100); do
  curl -sf --cacert "$CA" https://127.0.0.1:8443/v2/health/live >/dev/null 2>&1 && break
  kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null || { echo "demo: the server exited:" >&2; cat "$DEMO/server.log" >&2; exit 1; }
  sleep 0.1
done

export AEGIS_TOKEN="$TOKEN" AEGIS_CACERT="$CA" AEGIS_SERVER=https://127.0.0.1:9443
"$AEGIS" model push mlp-onnx --version 1 --file examples/mlp.onnx --format onnx
"$AEGIS" model push mlp-torch --version 1 --file examples/mlp.pt --format torchscript
"$AEGIS" model push xgb --version 1 --file examples/xgb_classifier.json --format xgboost
"$AEGIS" model list

cat <<MSG

Aegis is running (pid $(cat "$DEMO/server.pid"), log $DEMO/server.log).

  Admin token (shown once, not saved): $TOKEN
  CA certificate:                      $CA

Run an inference:

  curl --cacert $CA -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' https://127.0.0.1:8443/v2/models/mlp-torch/infer \\
    -d '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}'

Stop it with:  kill \$(cat $DEMO/server.pid)
MSG
