"""Connection exhaustion and limits that cannot lock the probes out (docs/limits.md).

One source opens 1,030 idle connections; a ready probe and an inference from another
source still answer in under 100 ms, an established keep-alive client keeps working, the
server's descriptors stay bounded, and nothing lingers once the attacker leaves. The
handshake and first-byte deadlines close silent connections. With every cap at its limit
and requests refused for other reasons, health probes are still answered.

The attacker's connections come from 127.0.0.2..127.0.0.6 (the whole of 127/8 is
loopback on Linux); the server listens on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import re
import resource
import socket
import statistics
import time

import pytest

from aegis_testlib import (http_request_bytes, read_response, start_installation, stop_and_check, tls_connect,
                           tls_context)

INFER = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]}]}
FLOOD = 1030
DEADLINE = 2  # handshake_timeout_seconds and first_byte_timeout_seconds in the flood fixture


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if max(soft, want) < FLOOD + 200:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {FLOOD + 200} descriptors this test needs")
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def flooded(tmp_path_factory):
    """Every limit at its default (1024 connections per listener, 64 per source, 5 s deadlines)."""
    inst = start_installation(tmp_path_factory.mktemp("aegis-connlimits"), models=["mlp_torch"])
    yield inst
    stop_and_check(inst)


@pytest.fixture(scope="module")
def short_deadlines(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("aegis-deadlines"), models=False, config={
        ("limits", "handshake_timeout_seconds"): DEADLINE,
        ("limits", "first_byte_timeout_seconds"): DEADLINE,
    })
    yield inst
    stop_and_check(inst)


def from_source(port: int, source: str, timeout: float = 5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def metrics(inst) -> dict:
    r = inst.get("/metrics", admin=True)
    assert r.status_code == 200, r.text[:300]
    out = {}
    for m in re.finditer(r'^(aegis_connections_\w+)\{([^}]*)\} (\S+)$', r.text, flags=re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("listener") != "data":
            continue
        key = m.group(1) + "".join(f",{k}={v}" for k, v in sorted(labels.items()) if k != "listener")
        out[key] = float(m.group(3))
    return out


def server_resources(inst) -> tuple[int, int]:
    """(open descriptors, resident KiB) of the server process."""
    pid = inst.proc.pid
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", open(f"/proc/{pid}/status").read(), flags=re.M).group(1))
    return fds, rss


def wait_until(pred, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def timed_request(sock_factory, raw: bytes) -> tuple[float, int | None]:
    """Seconds from connect to the full response (new TLS connection each time), and the status."""
    t0 = time.monotonic()
    s = sock_factory()
    try:
        s.sendall(raw)
        r = read_response(s, timeout=5)
    finally:
        s.close()
    return time.monotonic() - t0, (r.status_code if r is not None else None)


def test_one_source_cannot_exhaust_connections(flooded):
    inst = flooded
    port = inst.data_port
    probe = http_request_bytes("GET", "/v2/health/ready")
    infer = http_request_bytes("POST", "/v2/models/mlp_torch/infer",
                               {**inst.auth, "Content-Type": "application/json"}, json.dumps(INFER).encode())
    # An established client: one request done, now idle on keep-alive.
    established = tls_connect(port, inst.ca)
    established.sendall(probe)
    assert read_response(established).status_code == 200
    assert timed_request(lambda: tls_connect(port, inst.ca), infer)[1] == 200  # warm the engine worker

    before = metrics(inst)
    fds0, rss0 = server_resources(inst)
    attack = []
    try:
        for _ in range(FLOOD):
            attack.append(from_source(port, "127.0.0.2"))
        # Every connection was accepted (each displacing an older one from its source).
        assert wait_until(lambda: metrics(inst)["aegis_connections_accepted_total"]
                          >= before["aegis_connections_accepted_total"] + FLOOD, 4), metrics(inst)
        fds1, rss1 = server_resources(inst)
        during = metrics(inst)

        probes = [timed_request(lambda: tls_connect(port, inst.ca), probe) for _ in range(3)]
        infers = [timed_request(lambda: tls_connect(port, inst.ca), infer) for _ in range(3)]
        established.sendall(probe)
        still = read_response(established)
        print(f"\nflood of {FLOOD} idle connections from 127.0.0.2: server fds {fds0} -> {fds1}, "
              f"RSS {rss0} -> {rss1} KiB; probe ms {[round(t * 1000, 1) for t, _ in probes]}, "
              f"infer ms {[round(t * 1000, 1) for t, _ in infers]}; counters {during}")
        assert all(status == 200 for _, status in probes + infers), (probes, infers)
        assert statistics.median(t for t, _ in probes) < 0.1, probes
        assert statistics.median(t for t, _ in infers) < 0.1, infers
        assert still is not None and still.status_code == 200, "the established client lost its connection"
        # One source holds at most max_connections_per_source (64) of the server's descriptors.
        assert fds1 - fds0 <= 64 + 8, (fds0, fds1)
        assert during["aegis_connections_displaced_total,reason=source_cap"] - \
            before["aegis_connections_displaced_total,reason=source_cap"] >= FLOOD - 64, during
        assert during["aegis_connections_refused_total,reason=source_cap"] == \
            before["aegis_connections_refused_total,reason=source_cap"], "nothing was in a request: none refused"
    finally:
        for s in attack:
            s.close()
        established.close()
    # Nothing lingers once the attacker has gone.
    assert wait_until(lambda: server_resources(inst)[0] <= fds0, 3), (fds0, server_resources(inst))
    assert wait_until(lambda: metrics(inst)["aegis_connections_active"] <= before["aegis_connections_active"], 3)
    fds2, rss2 = server_resources(inst)
    print(f"after the attacker left: server fds {fds2}, RSS {rss2} KiB")
    # The limits' actions are audited as a summary, not one event per connection.
    def limit_events():
        r = inst.get("/v1/audit?limit=5000", admin=True)
        assert r.status_code == 200, r.text[:300]
        return [e for e in r.json()["events"] if e.get("action") == "http.connection_limit"]

    assert wait_until(lambda: limit_events(), 3), "no http.connection_limit audit event"
    events = limit_events()
    print(f"audit: {events}")
    assert len(events) == 1, f"{len(events)} audit events for one flood (expected one summary a minute)"
    assert "127.0.0.2" in json.dumps(events[0]), events[0]


def test_silent_connections_meet_their_deadlines(short_deadlines):
    inst = short_deadlines
    before = metrics(inst)
    tcp_only = [from_source(inst.data_port, "127.0.0.3") for _ in range(10)]
    handshaken = []
    for _ in range(10):
        s = from_source(inst.data_port, "127.0.0.3")
        handshaken.append(tls_context(inst.ca).wrap_socket(s, server_hostname="127.0.0.1"))
    t0 = time.monotonic()

    def closed(s) -> bool:
        s.settimeout(0.01)
        try:
            return s.recv(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    try:
        assert wait_until(lambda: all(closed(s) for s in tcp_only + handshaken), DEADLINE + 2, step=0.1), \
            "a silent connection outlived handshake_timeout_seconds / first_byte_timeout_seconds"
        took = time.monotonic() - t0
        assert took >= DEADLINE - 0.5, f"closed after {took:.1f}s, before the deadline"
    finally:
        for s in tcp_only + handshaken:
            s.close()
    after = metrics(inst)
    assert after["aegis_connections_timed_out_total,phase=handshake"] - \
        before["aegis_connections_timed_out_total,phase=handshake"] == 10, after
    assert after["aegis_connections_timed_out_total,phase=first_byte"] - \
        before["aegis_connections_timed_out_total,phase=first_byte"] == 10, after


# --------------------------------------------------------------------------- probes (item 5)

SMALL_CAP = 8
SMALL_PER_SOURCE = 4


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("aegis-capped"), models=False, config={
        ("limits", "max_connections"): SMALL_CAP,
        ("limits", "max_connections_per_source"): SMALL_PER_SOURCE,
        ("limits", "read_timeout_seconds"): 5,
    })
    yield inst
    stop_and_check(inst)


def test_probes_are_served_while_limits_refuse_everything_else(capped):
    inst = capped
    port = inst.data_port
    probe = http_request_bytes("GET", "/v2/health/ready")
    before = metrics(inst)
    held = []
    try:
        # Requests in progress (heads not finished) from one source: at its cap, a
        # further connection from it is refused, since none of them may be displaced.
        for _ in range(SMALL_PER_SOURCE):
            s = tls_context(inst.ca).wrap_socket(from_source(port, "127.0.0.6"), server_hostname="127.0.0.1")
            s.sendall(b"GET /v2/health/live HTTP/1.1\r\n")
            held.append(s)
        time.sleep(0.2)
        try:
            s = from_source(port, "127.0.0.6")
            tls_context(inst.ca).wrap_socket(s, server_hostname="127.0.0.1").close()
            refused = False
        except OSError:
            refused = True
        assert refused, "a connection beyond the per-source cap was admitted while all were in a request"
        # Idle floods from four more sources fill the rest of the listener many times over.
        for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
            held += [from_source(port, source) for _ in range(25)]
        # Everything else is refused: no credential, a bad credential.
        assert inst.get("/v2/models/none/ready", token=False).status_code == 401
        assert inst.get("/v2/models/none/ready", headers={"Authorization": "Bearer nope"},
                        token=False).status_code == 401
        # Probes from a fresh source and from a flooding source are answered.
        for source in ("127.0.0.1", "127.0.0.2"):
            t, status = timed_request(
                lambda: tls_context(inst.ca).wrap_socket(from_source(port, source), server_hostname="127.0.0.1"),
                probe)
            print(f"\nready probe from {source} at the caps: {t * 1000:.1f} ms -> {status}")
            assert status == 200, f"probe from {source} at the caps -> {status}"
            assert t < 0.1, f"probe from {source} took {t * 1000:.0f} ms"
        after = metrics(inst)
        print(f"counters: {after}")
        assert after["aegis_connections_refused_total,reason=source_cap"] > \
            before["aegis_connections_refused_total,reason=source_cap"], after
        assert after["aegis_connections_displaced_total,reason=listener_cap"] + \
            after["aegis_connections_displaced_total,reason=source_cap"] > \
            before["aegis_connections_displaced_total,reason=listener_cap"] + \
            before["aegis_connections_displaced_total,reason=source_cap"], after
        assert after["aegis_connections_active"] <= SMALL_CAP + 1, after
    finally:
        for s in held:
            s.close()
