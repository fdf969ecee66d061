#!/usr/bin/python3
"""Connection exhaustion from one source, measured (docs/limits.md).

Starts a fresh installation with default limits and the mlp_torch example, opens N idle
connections from 127.0.0.2 (plain TCP, or with completed TLS handshakes), and reports the
server's descriptors and resident memory before, during and after the flood, whether a ready
probe and an inference from 127.0.0.1 are answered during it (and how fast), and how long
after the attacker closes a probe is served again.

    AEGIS_BIN=build/release/src/cli/aegis /usr/bin/python3 bench/connection_flood.py [--tls] [-n 1030]

Run it against two binaries (AEGIS_BIN) to compare before and after a change.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import resource
import socket
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
from aegis_testlib import (http_request_bytes, read_response, start_installation, stop_and_check,  # noqa: E402
                           tls_connect, tls_context)

INFER = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]}]}


def server_resources(pid: int) -> dict:
    status = open(f"/proc/{pid}/status").read()
    return {"fds": len(os.listdir(f"/proc/{pid}/fd")),
            "rss_kib": int(re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.M).group(1))}


def attempt(port: int, ca: str, raw: bytes) -> dict:
    t0 = time.monotonic()
    try:
        s = tls_connect(port, ca, timeout=1)
        s.sendall(raw)
        r = read_response(s, timeout=1)
        s.close()
        outcome = r.status_code if r is not None else "closed"
    except OSError as e:
        outcome = type(e).__name__
    return {"ms": round((time.monotonic() - t0) * 1000, 1), "outcome": outcome}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1030, help="idle connections from the attacker (default 1030)")
    ap.add_argument("--tls", action="store_true", help="the attacker completes TLS handshakes")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.n + 1024)), hard))

    inst = start_installation(pathlib.Path(tempfile.mkdtemp(prefix="aegis-flood-")), models=["mlp_torch"])
    result = {"binary": os.environ.get("AEGIS_BIN", "build/release/src/cli/aegis"), "connections": args.n,
              "tls": args.tls}
    try:
        port, ca = inst.data_port, inst.ca
        probe = http_request_bytes("GET", "/v2/health/ready")
        infer = http_request_bytes("POST", "/v2/models/mlp_torch/infer",
                                   {**inst.auth, "Content-Type": "application/json"}, json.dumps(INFER).encode())
        attempt(port, ca, infer)  # warm the engine
        result["before"] = server_resources(inst.proc.pid)
        attack, t0 = [], time.monotonic()
        for _ in range(args.n):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=("127.0.0.2", 0))
                if args.tls:
                    s = tls_context(ca).wrap_socket(s, server_hostname="127.0.0.1")
                attack.append(s)
            except OSError:
                pass
        result["flood_seconds"] = round(time.monotonic() - t0, 2)
        time.sleep(0.3)
        result["during"] = server_resources(inst.proc.pid)
        result["probes"] = [attempt(port, ca, probe) for _ in range(3)]
        result["inferences"] = [attempt(port, ca, infer) for _ in range(3)]
        for s in attack:
            s.close()
        t0 = time.monotonic()
        while attempt(port, ca, probe)["outcome"] != 200 and time.monotonic() - t0 < 90:
            time.sleep(0.1)
        result["probe_served_after_close_seconds"] = round(time.monotonic() - t0, 2)
        time.sleep(1)
        result["after"] = server_resources(inst.proc.pid)
    finally:
        stop_and_check(inst)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
