#!/usr/bin/python3
"""Call an Aegis data plane from Python: model metadata, then one inference.

Needs only `requests` (Debian: python3-requests). The server's certificate is checked
against the installation's own CA (`DIR/tls/ca.crt`, printed by `aegis init`), never
switched off; the token comes from the environment, never the command line (other
users can read a process's arguments in `ps`).

    export AEGIS_URL=https://127.0.0.1:8443          # the data plane (default)
    export AEGIS_CACERT=/srv/aegis/tls/ca.crt        # the installation's CA
    export AEGIS_TOKEN=aegis_...                     # a token with the consumer role
    /usr/bin/python3 examples/client.py mlp 5.1 3.5 1.4 0.2

It prints the model's metadata and the first output, and exits 0; on any failure it
prints one line saying what went wrong (with the server's own {"error": "..."}
message and the request id to find its audit event) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import requests

TIMEOUT_SECONDS = 30


class AegisError(Exception):
    """A refused or failed request, with what the server said."""


class AegisClient:
    def __init__(self, url: str, token: str, cacert: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False           # no proxy or REQUESTS_CA_BUNDLE from the environment
        self.session.verify = cacert             # the installation's CA: TLS is always verified
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kw) -> dict:
        try:
            r = self.session.request(method, self.url + path, timeout=TIMEOUT_SECONDS, **kw)
        except requests.exceptions.SSLError as e:
            raise AegisError(f"TLS verification failed for {self.url}: is AEGIS_CACERT the installation's "
                             f"tls/ca.crt? ({e})") from e
        except requests.RequestException as e:
            raise AegisError(f"cannot reach {self.url}: {e}") from e
        if r.status_code != 200:
            try:
                message = r.json()["error"]             # every Aegis error is {"error": "..."}
            except (ValueError, KeyError, TypeError):
                message = r.text[:200] or r.reason
            hint = {401: " (check AEGIS_TOKEN)", 403: " (the token's role or model scope does not allow this)",
                    429: f" (retry after {r.headers.get('Retry-After', '?')} s)",
                    503: f" (not ready; retry after {r.headers.get('Retry-After', '?')} s)"}.get(r.status_code, "")
            raise AegisError(f"{method} {path}: {r.status_code} {message}{hint} "
                             f"[request id {r.headers.get('X-Request-Id', '-')}]")
        return r.json()

    def metadata(self, model: str) -> dict:
        return self._call("GET", f"/v2/models/{model}")

    def infer(self, model: str, inputs: list[dict], request_id: str | None = None) -> dict:
        body = {"inputs": inputs}
        if request_id:
            body["id"] = request_id
        return self._call("POST", f"/v2/models/{model}/infer", json=body)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Model metadata and one inference against an Aegis data plane.")
    parser.add_argument("model", help="model name, e.g. mlp")
    parser.add_argument("values", nargs="+", type=float, help="one row of FP32 features")
    args = parser.parse_args(argv)

    url = os.environ.get("AEGIS_URL", "https://127.0.0.1:8443")
    token = os.environ.get("AEGIS_TOKEN")
    cacert = os.environ.get("AEGIS_CACERT")
    if not token or not cacert:
        print("client.py: set AEGIS_TOKEN and AEGIS_CACERT (the installation's tls/ca.crt)", file=sys.stderr)
        return 1
    if not os.path.isfile(cacert):
        print(f"client.py: AEGIS_CACERT {cacert} is not a readable file", file=sys.stderr)
        return 1

    client = AegisClient(url, token, cacert)
    try:
        meta = client.metadata(args.model)
        signer = (meta.get("signature") or {}).get("signer", "unsigned")
        print(f"model {meta['name']} versions {meta['versions']} on {meta['platform']}, signed by {signer}")
        spec = meta["inputs"][0]                      # the first input: name and datatype from the model
        print(f"input {spec['name']} {spec['datatype']} {spec['shape']}")
        result = client.infer(args.model, [{"name": spec["name"], "datatype": "FP32",
                                            "shape": [1, len(args.values)], "data": args.values}],
                              request_id="client-example")
    except AegisError as e:
        print(f"client.py: {e}", file=sys.stderr)
        return 1
    out = result["outputs"][0]
    print(f"version {result['model_version']} output {out['name']} {out['datatype']} {out['shape']}: "
          + json.dumps(out["data"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
