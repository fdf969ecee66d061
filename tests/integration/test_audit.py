"""Audit trail: one JSON-lines event per request and per management action, no secrets, no tensors."""

import datetime
import json
import random
import time

import pytest

from aegis_testlib import EXAMPLES, RFC3339, aegis, describe, infer_body, reference_case

FIELDS = {"time", "request_id", "principal", "action", "resource", "decision", "status", "latency_us", "remote"}
# Actions that are HTTP requests: these carry a request id, an HTTP status and the peer address.
# (Events not tied to a request, such as the server starting, may leave those empty.)
REQUEST_ACTIONS = {"infer", "model.metadata", "model.ready", "server.metadata", "server.live", "server.ready",
                   "model.push", "model.list", "model.remove", "audit.read"}


def _events_with(server, **want):
    return [e for e in server.audit_events() if all(e.get(k) == v for k, v in want.items())]


def _wait(server, what, **want):
    return server.wait_audit(lambda e: all(e.get(k) == v for k, v in want.items()), what=f"{what} {want}")


def check_event_shape(e):
    missing = FIELDS - set(e)
    assert not missing, f"audit event lacks {missing}: {e}"
    assert RFC3339.match(str(e["time"])), f"time is not RFC 3339: {e['time']!r}"
    assert e["decision"] in ("allow", "deny"), e
    if e["action"] not in REQUEST_ACTIONS and e["status"] in (0, None):
        return  # not an HTTP request (e.g. server.init, server.start)
    assert isinstance(e["request_id"], str) and e["request_id"], e
    assert e["decision"] in ("allow", "deny"), e
    assert isinstance(e["status"], int) and 100 <= e["status"] < 600, e
    assert isinstance(e["latency_us"], int) and e["latency_us"] >= 0, e
    assert isinstance(e["remote"], str) and "127.0.0.1" in e["remote"], e


def test_events_are_json_lines_with_all_fields(server):
    x, _ = reference_case("mlp_torch")
    assert server.infer("mlp_torch", infer_body(x), version="1").status_code == 200
    _wait(server, "infer", action="infer", resource="model:mlp_torch/versions/1")
    events = server.audit_events()
    assert events, f"no JSON lines under {server.dir / 'audit'}"
    for e in events:
        check_event_shape(e)


def test_audit_files_are_only_json_lines(server):
    bad = []
    for p in sorted((server.dir / "audit").rglob("*")):
        if not p.is_file():
            continue
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    bad.append((p.name, n, line[:80]))
            except ValueError:
                bad.append((p.name, n, line[:80]))
    assert not bad, f"non-JSON lines in the audit files: {bad[:5]}"


def test_infer_event(server):
    x, _ = reference_case("xgb")
    before = len(_events_with(server, action="infer", resource="model:xgb/versions/1", status=200))
    assert server.infer("xgb", infer_body(x), version="1").status_code == 200
    deadline = time.time() + 10
    while len(_events_with(server, action="infer", resource="model:xgb/versions/1", status=200)) <= before:
        assert time.time() < deadline, "no new infer event for xgb/1"
        time.sleep(0.1)
    e = _events_with(server, action="infer", resource="model:xgb/versions/1", status=200)[-1]
    assert e["principal"] == "token:admin" and e["decision"] == "allow", e
    assert e["auth_method"] == "token" and e["grant"] == "admin:*", e
    check_event_shape(e)


def _new_event(server, before: int, what: str, **want):
    deadline = time.time() + 10
    while True:
        evs = _events_with(server, **want)
        if len(evs) > before:
            return evs[-1]
        assert time.time() < deadline, f"no new audit event {what} {want}"
        time.sleep(0.1)


def test_denied_request_is_recorded_as_anonymous(server):
    want = dict(status=401, principal="anonymous", decision="deny")
    before = len(_events_with(server, **want))
    r = server.get("/v2/models/mlp_onnx", token=False)
    assert r.status_code == 401
    check_event_shape(_new_event(server, before, "for a request without a token", **want))


def test_wrong_token_is_denied_in_audit(server):
    before = len(_events_with(server, status=401, decision="deny"))
    r = server.post("/v2/models/mlp_onnx/infer", token=False, headers={"Authorization": "Bearer nope-nope"},
                    json=infer_body(reference_case("mlp_onnx")[0]))
    assert r.status_code == 401
    e = _new_event(server, before, "for a wrong token", status=401, decision="deny")
    assert e["principal"] != "admin", e


ACTIONS = [
    ("server.live", lambda s: s.get("/v2/health/live", token=False), None),
    ("server.ready", lambda s: s.get("/v2/health/ready", token=False), None),
    ("server.metadata", lambda s: s.get("/v2"), None),
    ("model.metadata", lambda s: s.get("/v2/models/mlp_onnx"), "model:mlp_onnx"),
    ("model.ready", lambda s: s.get("/v2/models/mlp_onnx/versions/1/ready"), "model:mlp_onnx/versions/1"),
    ("model.list", lambda s: s.get("/v1/models", admin=True), None),
    ("audit.read", lambda s: s.get("/v1/audit?limit=1", admin=True), None),
    ("model.push", lambda s: s.push("audit_probe", "1", EXAMPLES / "mlp.pt", "torchscript"),
     "model:audit_probe/versions/1"),
    ("model.remove", lambda s: s.delete("/v1/models/audit_probe/versions/1"), "model:audit_probe/versions/1"),
]


@pytest.mark.parametrize("action,call,resource", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_action_recorded(server, action, call, resource):
    n_before = len(_events_with(server, action=action))
    r = call(server)
    assert r.status_code in (200, 201), f"{action}: {r.status_code} {r.text[:300]}"
    deadline = time.time() + 10
    while True:
        evs = _events_with(server, action=action)
        if len(evs) > n_before:
            break
        assert time.time() < deadline, (f"no new audit event with action {action!r}; actions seen: "
                                        f"{sorted({e.get('action') for e in server.audit_events()})}")
        time.sleep(0.1)
    e = evs[-1]
    check_event_shape(e)
    assert e["status"] == r.status_code, (e, r.status_code)
    assert e["decision"] == "allow", e
    if resource is not None:
        if resource.endswith("/versions/1"):
            assert e["resource"] == resource, e
        else:
            assert str(e["resource"]).startswith(resource), e


def test_no_tensor_data_and_no_token_in_audit(server):
    marker = random.randint(10 ** 17, 9 * 10 ** 17)
    marker_fp = f"{random.randint(10 ** 6, 9 * 10 ** 6)}.{random.randint(10 ** 5, 9 * 10 ** 5)}25"
    r = server.get("/v2/models/echo")
    name = (r.json().get("inputs") or [{"name": "x"}])[0]["name"]
    body = {"id": "marker-test", "inputs": [{"name": name, "datatype": "INT64", "shape": [2], "data": [marker, 1]}]}
    r = server.infer("echo", body, version="1")
    assert r.status_code == 200, r.text
    assert str(marker) in r.text
    # A rejected request carrying the marker must not be logged verbatim either.
    server.infer("echo", {"inputs": [{"name": name, "datatype": "BYTES", "shape": [1], "data": [f"m{marker}"]}]})
    server.infer("mlp_torch", {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4],
                                            "data": [float(marker_fp), 1, 2]}]})
    server.infer("mlp_torch", b'{"inputs": [' + str(marker).encode())  # malformed JSON with the marker
    _wait(server, "echo infer", action="infer", resource="model:echo/versions/1", status=200)
    time.sleep(0.5)
    blob = b"".join(p.read_bytes() for p in (server.dir / "audit").rglob("*") if p.is_file())
    assert str(marker).encode() not in blob, "tensor data (INT64 marker) found in the audit files"
    assert marker_fp.encode() not in blob, "tensor data (FP marker) found in the audit files"
    assert server.token.encode() not in blob, "admin token found in the audit files"


def test_unversioned_infer_records_the_version_that_served_it(server):
    """The auditor must be able to tell which version answered: a request to
    /v2/models/xgb/infer is recorded with the version it resolved to."""
    x, _ = reference_case("xgb")
    before = len(_events_with(server, action="infer", status=200))
    assert server.infer("xgb", infer_body(x)).status_code == 200
    e = _new_event(server, before, "for an unversioned infer", action="infer", status=200)
    assert e["resource"] == "model:xgb/versions/1", f"resource {e['resource']!r}, expected 'model:xgb/versions/1'"


def test_get_audit_limit(server):
    for _ in range(3):
        server.get("/v2")
    time.sleep(0.3)
    r = server.get("/v1/audit?limit=5", admin=True)
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert len(events) == 5, f"limit=5 returned {len(events)} events"
    for e in events:
        check_event_shape(e)
    times = [datetime.datetime.fromisoformat(e["time"]) for e in events]
    assert times == sorted(times), f"events not oldest first: {[e['time'] for e in events]}"
    on_disk = [e["request_id"] for e in server.audit_events()]
    idx = [on_disk.index(e["request_id"]) for e in events if e["request_id"] in on_disk]
    assert len(idx) == 5, "events returned by /v1/audit are not in the audit files"
    assert idx == list(range(idx[0], idx[0] + 5)), f"not a contiguous run of the log: {idx}"
    assert idx[-1] >= len(on_disk) - 3, f"not the last events (index {idx[-1]} of {len(on_disk)})"


def test_cli_audit_show_since_keeps_the_newest_with_header_and_reason(server):
    assert server.get("/v2", token=False).status_code == 401  # a denial with a reason
    time.sleep(0.2)
    p = aegis("audit", "show", "--since", "1h", "--limit", "10000", "--json", *server.cli_flags())
    assert p.returncode == 0, describe(p)
    everything = json.loads(p.stdout)["events"]
    assert len(everything) > 3, everything
    p = aegis("audit", "show", "--since", "1h", "--limit", "2", "--json", *server.cli_flags())
    assert p.returncode == 0, describe(p)
    out = json.loads(p.stdout)
    seqs = [e["seq"] for e in out["events"]]
    # The newest two (events are only ever appended), oldest first, and how many were left out.
    assert len(seqs) == 2 and seqs == sorted(seqs) and seqs[0] >= everything[-2]["seq"], (seqs, everything[-2:])
    assert out["left_out"] >= len(everything) - 2, out
    p = aegis("audit", "show", "--since", "1h", "--limit", "5", env=server.cli_env())
    assert p.returncode == 0, describe(p)
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TIME", "SEQ", "PRINCIPAL", "ACTION", "RESOURCE", "DECISION", "STATUS", "REMOTE",
                                "REASON"], lines[0]
    assert "showing the newest 5 of" in p.stderr, describe(p)
    denied = [l for l in lines if " server.metadata " in l and " deny " in l]
    assert denied and denied[-1].rstrip().endswith("missing bearer token"), p.stdout[-2000:]


def test_cli_audit_show(server):
    p = aegis("audit", "show", "--limit", "3", "--json", *server.cli_flags())
    assert p.returncode == 0, describe(p)
    events = json.loads(p.stdout)["events"]
    assert len(events) == 3, events
    for e in events:
        check_event_shape(e)
    p = aegis("audit", "show", "--limit", "2", env=server.cli_env())
    assert p.returncode == 0 and p.stdout.strip(), describe(p)
