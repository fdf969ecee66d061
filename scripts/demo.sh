#!/usr/bin/env bash
# `make demo`: a fresh installation in ./demo, the sample models signed by a
# publisher key that lives outside the server's data folder, that key added to the
# trust store, the models pushed with their signatures, and the server running in
# the background on 127.0.0.1:8443 (data) and 127.0.0.1:9443 (control).
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

# The publisher's side: a signing key of its own (never inside the server's data
# folder), the models scanned and signed (OpenSSF Model Signing bundles).
PUBLISHER="$DEMO/publisher"
mkdir -p "$PUBLISHER"
"$AEGIS" model keygen --type ecdsa-p256 --private-key "$PUBLISHER/signing.key" --public-key "$PUBLISHER/signing.pub"
for f in mlp.onnx mlp.pt xgb_classifier.json; do
  "$AEGIS" scan "examples/$f"
  "$AEGIS" model sign "examples/$f" --key "$PUBLISHER/signing.key" --output "$PUBLISHER/$f.sig.json"
  "$AEGIS" model verify "examples/$f" --bundle "$PUBLISHER/$f.sig.json" --public-key "$PUBLISHER/signing.pub"
done

# The server's side: trust that publisher, then push signed models only.
export AEGIS_TOKEN="$TOKEN" AEGIS_CACERT="$CA" AEGIS_SERVER=https://127.0.0.1:9443
"$AEGIS" trust add demo-publisher --public-key "$PUBLISHER/signing.pub" --models '*'
"$AEGIS" model push mlp-onnx --version 1 --file examples/mlp.onnx --format onnx \
  --signature "$PUBLISHER/mlp.onnx.sig.json"
"$AEGIS" model push mlp-torch --version 1 --file examples/mlp.pt --format torchscript \
  --signature "$PUBLISHER/mlp.pt.sig.json"
"$AEGIS" model push xgb --version 1 --file examples/xgb_classifier.json --format xgboost \
  --signature "$PUBLISHER/xgb_classifier.json.sig.json"
"$AEGIS" model list

# And what the server refuses: an unsigned push, and a signed file changed afterwards.
if "$AEGIS" model push unsigned --version 1 --file examples/mlp.onnx --format onnx 2>"$DEMO/refused.txt"; then
  echo "demo: an unsigned model was accepted" >&2; exit 1
fi
echo "refused as expected: $(cat "$DEMO/refused.txt")"

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
