#!/usr/bin/python3
"""Server CPU spent on a request head that arrives one byte per TLS record, measured.

A client may send its head in pieces as small as it likes: over TLS each record is one read
for the server. This starts a fresh installation (no models), sends the same health-probe
head, padded to SIZE bytes with one header, either in one write or one byte per TLS record,
and reports the server's CPU time (user + system, all threads, from /proc/PID/stat) for each,
as the median of RUNS rounds, and their ratio. A head dripped byte by byte costs one read per
byte whatever the server does; what must not happen is that each read re-examines everything
that arrived before it, which makes the cost grow with the square of the head's size.

    AEGIS_BIN=build/release/src/cli/aegis /usr/bin/python3 bench/head_drip.py [--size 12000] [--runs 5]
        [--max-header-bytes N]     # [limits] max_header_bytes, for heads above the 16 KiB default

Run it against two binaries (AEGIS_BIN) to compare before and after a change.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
from aegis_testlib import read_response, start_installation, stop_and_check, tls_connect  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def head(size: int) -> bytes:
    start = b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
    return start + b"a" * max(0, size - len(start) - 4) + b"\r\n\r\n"


def one_round(inst, raw: bytes, drip: bool) -> float:
    with tls_connect(inst.data_port, inst.ca, timeout=60) as s:
        before = cpu_seconds(inst.proc.pid)
        if drip:
            for i in range(len(raw)):
                s.sendall(raw[i:i + 1])
        else:
            s.sendall(raw)
        r = read_response(s, timeout=60)
        after = cpu_seconds(inst.proc.pid)
    if r is None or r.status_code != 200:
        raise SystemExit(f"head_drip: expected 200, got {None if r is None else r.status_code}")
    return after - before


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=12000, help="head size in bytes (default 12000)")
    ap.add_argument("--runs", type=int, default=5, help="rounds per mode (default 5)")
    ap.add_argument("--max-header-bytes", type=int, help="[limits] max_header_bytes (default: the server's)")
    args = ap.parse_args()
    raw = head(args.size)
    with tempfile.TemporaryDirectory(prefix="aegis-drip-") as tmp:
        config = {("limits", "max_header_bytes"): args.max_header_bytes} if args.max_header_bytes else None
        inst = start_installation(pathlib.Path(tmp), models=False, config=config)
        try:
            whole, drip = [], []
            for _ in range(args.runs):  # interleaved, so that machine noise hits both alike
                whole.append(one_round(inst, raw, drip=False))
                drip.append(one_round(inst, raw, drip=True))
        finally:
            stop_and_check(inst)
    result = {"head_bytes": len(raw), "runs": args.runs,
              "server_cpu_s_whole": {"runs": whole, "median": statistics.median(whole)},
              "server_cpu_s_dripped": {"runs": drip, "median": statistics.median(drip)},
              "dripped_us_per_byte": round(statistics.median(drip) / len(raw) * 1e6, 2)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
