#!/usr/bin/python3
"""Memory of the server under a flood of large request bodies (issue 13, item 3).

Starts a fresh installation of AEGIS_BIN (default build/release/src/cli/aegis) with
max_body_bytes = --body-bytes, opens --connections TLS connections with the admin token, each
declaring a body 1 KiB under the limit and sending all of it but the last byte (so the server
holds it until the read timeout), then prints the server's resident memory (VmRSS of the
`aegis serve` process) before and while the bodies are held, and how many bodies were admitted
or refused. --set limits.KEY=VALUE adds aegis.toml settings (a server without the memory budget
refuses its keys: omit them for a "before" run).

    /usr/bin/python3 bench/body_memory_flood.py --connections 24 --body-bytes 4194304
    AEGIS_BIN=/tmp/old-aegis /usr/bin/python3 bench/body_memory_flood.py ...
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
from aegis_testlib import AEGIS_BIN, ResponseReader, http_request_bytes, start_installation, tls_connect  # noqa: E402

MiB = 1 << 20


def rss(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=24)
    ap.add_argument("--body-bytes", type=int, default=4 * MiB, help="limits.max_body_bytes")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--hold-seconds", type=float, default=2.0)
    args = ap.parse_args()
    config = {("limits", "max_body_bytes"): args.body_bytes, ("limits", "read_timeout_seconds"): 120}
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.rsplit(".", 1)
        config[(section, name)] = int(value)
    with tempfile.TemporaryDirectory() as tmp:
        inst = start_installation(pathlib.Path(tmp), models=["mlp_onnx"], config=config)
        socks = []
        try:
            pid = inst.proc.pid
            time.sleep(1)
            before = rss(pid)
            length = args.body_bytes - 1024
            head = http_request_bytes("POST", "/v2/models/mlp_onnx/infer",
                                      {"Authorization": f"Bearer {inst.token}", "Content-Type": "application/json",
                                       "Content-Length": str(length)}, b"")
            for _ in range(args.connections):
                s = tls_connect(inst.data_port, inst.ca, timeout=120)
                s.sendall(head)
                socks.append(s)
            time.sleep(1)
            # A refusal has arrived by now; an admitted body is being waited for. (Readability
            # alone says nothing: TLS 1.3 session tickets arrive on every connection.)
            answers = [ResponseReader(s).next(0.05) for s in socks]
            refused = [s for s, r in zip(socks, answers) if r is not None]
            held = [s for s, r in zip(socks, answers) if r is None]
            statuses = [r.status_code for r in answers if r is not None]
            for s in held:
                s.settimeout(120)
            chunk = b" " * MiB
            # Interleaved, as concurrent clients would send.
            remaining = {id(s): length - 1 for s in held}
            t0 = time.monotonic()
            peak = before
            while any(remaining.values()):
                for s in held:
                    n = min(len(chunk), remaining[id(s)])
                    if n:
                        try:
                            s.sendall(chunk[:n])
                        except OSError:
                            n = remaining[id(s)]
                        remaining[id(s)] -= n
                peak = max(peak, rss(pid))
            send_s = time.monotonic() - t0
            time.sleep(args.hold_seconds)
            during = rss(pid)
            peak = max(peak, during)
            print(json.dumps({"binary": AEGIS_BIN, "connections": args.connections, "body_bytes": length,
                              "settings": args.set, "admitted": len(held), "refused": len(refused),
                              "refusal_statuses": sorted(set(map(str, statuses))),
                              "rss_before_mib": round(before / MiB, 1), "rss_held_mib": round(during / MiB, 1),
                              "rss_peak_mib": round(peak / MiB, 1), "growth_mib": round((during - before) / MiB, 1),
                              "send_seconds": round(send_s, 1)}))
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass
            inst.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
