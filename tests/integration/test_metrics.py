"""Monitoring: GET /metrics (Prometheus text, checked by `promtool check metrics`) and
GET /v1/dashboard (the live dashboard's data), on a real server.

Every assertion about a counter compares a scrape before and after traffic this test sent,
so the values are shown to move with traffic (and not merely to exist). The Grafana
dashboard shipped in deploy/grafana/ is checked against what the server really exposes.
"""

import http.client
import json
import pathlib
import re
import subprocess
import ssl
import time
import tomllib
import uuid

import pytest
import yaml

from aegis_testlib import (EXAMPLES, Installation, aegis, assert_build_revision, free_port, infer_body,
                           project_version, reference_case, start_installation, stop_and_check)
from identity_lib import TestCA, call, client_context, create_token, expect_refused_at_start, name

REPO = pathlib.Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana" / "aegis-dashboard.json"
RULES = REPO / "deploy" / "prometheus" / "aegis-rules.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "aegis-rules.test.yml"
PROMTOOL = "/usr/bin/promtool"
MODELS = ["mlp_onnx", "xgb"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def scrapers(tmp_path_factory):
    """The CA of Prometheus's client certificates, one it issued, and one from a CA the server does not trust."""
    root = tmp_path_factory.mktemp("scrapers")
    ca, foreign = TestCA(root / "ca", "Scrapers CA"), TestCA(root / "foreign", "Foreign CA")
    return {"ca": ca, "cert": ca.issue("prometheus", name("prometheus")),
            "foreign": foreign.issue("intruder", name("prometheus"))}


@pytest.fixture(scope="module")
def inst(tmp_path_factory, scrapers):
    # The dedicated metrics listener is on, mTLS-only: every test here shares one server.
    i = start_installation(tmp_path_factory.mktemp("aegis-metrics"), models=MODELS,
                           config={("metrics", "listen"): f"127.0.0.1:{free_port()}",
                                   ("metrics", "client_ca"): str(scrapers["ca"].cert_path)})
    yield i
    stop_and_check(i)


def metrics_port(inst) -> int:
    return int(tomllib.loads(inst.config_path.read_text())["metrics"]["listen"].rsplit(":", 1)[1])


def on_metrics_listener(inst, method, path, cert):
    """One request on the dedicated listener with `cert` (None: no client certificate)."""
    conn = http.client.HTTPSConnection("127.0.0.1", metrics_port(inst), timeout=30,
                                       context=client_context(inst.ca, cert))
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def auditor(inst):
    return create_token(inst, "metrics-auditor", "auditor")["token"]


@pytest.fixture(scope="module")
def consumer(inst):
    return create_token(inst, "metrics-consumer", "consumer")["token"]


def scrape(inst, token=None) -> str:
    r = inst.get("/metrics", admin=True, token=token is None,
                 headers={"Authorization": f"Bearer {token}"} if token else None)
    assert r.status_code == 200, f"/metrics -> {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"] == CONTENT_TYPE
    return r.text


def parse(text: str) -> dict:
    """{(name, frozenset(labels)): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"unparseable sample line: {line!r}"
        labels = frozenset(LABEL_RE.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str) -> float:
    """The sum of every series of `name`, whatever its labels."""
    return sum(v for (n, _), v in samples.items() if n == name)


def family_names(text: str) -> set:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def sample_input(model: str = "mlp_onnx") -> dict:
    return infer_body(reference_case(model)[0])


def dashboard(inst, token=None):
    r = inst.get("/v1/dashboard", admin=True, token=token is None,
                 headers={"Authorization": f"Bearer {token}"} if token else None)
    assert r.status_code == 200, f"/v1/dashboard -> {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


# --------------------------------------------------------------------------- /metrics


def test_exposition_passes_promtool(inst):
    # Some traffic first, so histograms and labeled counters have samples.
    assert inst.infer("mlp_onnx", sample_input()).status_code == 200
    inst.get("/v2/models/no-such-model/ready")
    text = scrape(inst)
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"promtool check metrics failed:\n{proc.stdout}\n{proc.stderr}\n---\n{text[:3000]}"
    required = {"aegis_requests_total", "aegis_request_duration_seconds", "aegis_stage_duration_seconds",
                "aegis_auth_attempts_total", "aegis_authz_denied_total", "aegis_integrity_failures_total",
                "aegis_scan_findings_total", "aegis_incidents_open", "aegis_models_loaded",
                "aegis_audit_events_total", "aegis_audit_tree_size", "aegis_tls_cert_expiry_seconds",
                "aegis_kek_age_seconds", "aegis_audit_signed_tree_size", "aegis_audit_verified"}
    assert required <= family_names(text), f"missing: {required - family_names(text)}"


def test_build_identity(inst):
    """aegis_build_info, `aegis --version` and GET /v2 state the same build: CMake's version, git's revision."""
    proc = aegis("--version")
    assert proc.returncode == 0, proc.stderr
    m = re.fullmatch(r"aegis (\S+) \(revision (\S+)\)", proc.stdout.strip())
    assert m, proc.stdout
    assert m.group(1) == project_version()
    assert_build_revision(m.group(2))
    samples = parse(scrape(inst))
    assert value(samples, "aegis_build_info", version=m.group(1), revision=m.group(2)) == 1, \
        [k for k in samples if k[0] == "aegis_build_info"]
    r = inst.get("/v2")
    assert r.status_code == 200 and r.json()["version"] == project_version(), r.text


def test_who_may_scrape(inst, auditor, consumer):
    before = parse(scrape(inst))
    assert "aegis_requests_total" in scrape(inst, token=auditor)
    r = call(inst, "GET", "/metrics", bearer=consumer, admin=True)
    assert r.status_code == 403, r.text
    r = call(inst, "GET", "/v1/dashboard", bearer=consumer)
    assert r.status_code == 403, r.text
    r = inst.get("/metrics", admin=True, token=False)
    assert r.status_code == 401, r.text
    assert "aegis_" not in r.text
    r = inst.post("/metrics", admin=True)
    assert r.status_code == 405
    # The data plane has no /metrics.
    assert inst.get("/metrics").status_code == 404
    # Control-plane roles without metrics.read are refused by the policy.
    for role in ("deployer", "approver"):
        token = create_token(inst, f"metrics-{role}", role)["token"]
        for path in ("/metrics", "/v1/dashboard"):
            r = call(inst, "GET", path, bearer=token, admin=True)
            assert r.status_code == 403, (role, path, r.status_code, r.text)
    after = parse(scrape(inst))
    assert value(after, "aegis_authz_denied_total") - value(before, "aegis_authz_denied_total") == 6
    assert value(after, "aegis_auth_attempts_total", method="none", result="failure") - \
        value(before, "aegis_auth_attempts_total", method="none", result="failure") == 1
    # Allowed scrapes are counted, not audited one by one; refused ones are audited.
    assert value(after, "aegis_metrics_scrapes_total", listener="admin") - \
        value(before, "aegis_metrics_scrapes_total", listener="admin") == 2  # `before` itself and the auditor's
    ev = inst.wait_audit(lambda e: e.get("action") == "metrics.read" and e.get("principal") == "token:metrics-consumer")
    assert ev["decision"] == "deny" and ev["status"] == 403
    assert not [e for e in inst.audit_events() if e.get("action") == "metrics.read" and e.get("status") == 200]


def test_inference_counts_per_model_version_and_code(inst):
    before = parse(scrape(inst))
    for _ in range(3):
        assert inst.infer("mlp_onnx", sample_input()).status_code == 200
    assert inst.infer("mlp_onnx", sample_input(), version="1").status_code == 200
    bad = {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    assert inst.infer("mlp_onnx", bad).status_code == 400
    after = parse(scrape(inst))

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("aegis_requests_total", model="mlp_onnx", version="1", code="200") == 4
    assert delta("aegis_requests_total", model="mlp_onnx", version="1", code="400") == 1
    assert delta("aegis_requests_total", model="xgb", version="1", code="200") == 0
    assert delta("aegis_request_duration_seconds_count", model="mlp_onnx", version="1") == 5
    assert delta("aegis_request_duration_seconds_sum", model="mlp_onnx", version="1") > 0
    # Each stage saw these requests: guard all five, the engine only the four valid ones.
    assert delta("aegis_stage_duration_seconds_count", stage="auth") >= 5
    assert delta("aegis_stage_duration_seconds_count", stage="policy") >= 5
    assert delta("aegis_stage_duration_seconds_count", stage="guard") == 4
    assert delta("aegis_stage_duration_seconds_count", stage="engine") == 4
    assert delta("aegis_stage_duration_seconds_count", stage="audit") >= 5
    assert value(after, "aegis_stage_duration_seconds_count", stage="tls") > 0
    assert delta("aegis_auth_attempts_total", method="token", result="success") >= 5
    assert delta("aegis_audit_events_total") >= 5
    assert value(after, "aegis_audit_tree_size") > 0
    assert value(after, "aegis_audit_verified") == 1
    assert 0 < value(after, "aegis_audit_signed_tree_size") <= value(after, "aegis_audit_tree_size")


def test_process_and_model_runtime_metrics(inst):
    """Process metrics under their standard names, requests in flight, and per model version: inferences, the wait
    for a free instance, batch sizes and load time (load failures: the registry's unit tests)."""
    before = parse(scrape(inst))
    for _ in range(3):
        assert inst.infer("xgb", sample_input("xgb")).status_code == 200
    after = parse(scrape(inst))

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("aegis_inferences_total", model="xgb", version="1", result="success") == 3
    assert delta("aegis_model_queue_wait_seconds_count", model="xgb", version="1") == 3
    assert delta("aegis_inference_batch_size_count", model="xgb", version="1") == 3
    assert delta("aegis_inference_batch_size_sum", model="xgb", version="1") >= 3
    assert value(after, "aegis_model_load_duration_seconds", model="xgb", version="1") > 0
    assert value(after, "aegis_model_load_duration_seconds", model="mlp_onnx", version="1") > 0
    # The scrape itself is in flight while the exposition is built.
    assert value(after, "aegis_requests_in_flight") >= 1
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert value(after, name) > 0, name
    start = value(after, "process_start_time_seconds")
    assert time.time() - 3600 < start <= time.time(), start
    assert value(after, "process_cpu_seconds_total") >= value(before, "process_cpu_seconds_total")


def test_authentication_failures_by_method(inst):
    before = parse(scrape(inst))
    wrong = "aegis_0123456789abcdef_" + "A" * 43
    assert inst.infer("mlp_onnx", sample_input(), headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert inst.get("/v2", headers={"Authorization": "Bearer aegis_session_0123456789abcdef_" + "B" * 43}).status_code == 401
    assert inst.get("/v2", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"}).status_code == 401
    assert inst.get("/v2", token=False).status_code == 401
    after = parse(scrape(inst))

    def delta(method, result):
        return value(after, "aegis_auth_attempts_total", method=method, result=result) - \
            value(before, "aegis_auth_attempts_total", method=method, result=result)

    assert delta("token", "failure") == 1
    assert delta("session", "failure") == 1
    assert delta("jwt", "failure") == 1
    assert delta("none", "failure") == 1
    assert delta("mtls", "failure") == 0
    # A refused credential names no model, whatever the path asked for.
    assert value(after, "aegis_requests_total", model="-", version="-", code="401") - \
        value(before, "aegis_requests_total", model="-", version="-", code="401") == 4


def test_client_chosen_names_create_no_series(inst):
    names = [f"probe-{uuid.uuid4().hex[:12]}" for _ in range(5)]
    before = parse(scrape(inst))
    for n in names:
        assert inst.infer(n, sample_input()).status_code == 404
        assert inst.infer("mlp_onnx", sample_input(), version=n).status_code == 404
        assert inst.get(f"/v2/models/{n}").status_code == 404
    text = scrape(inst)
    for n in names:
        assert n not in text, f"a client-chosen name reached the exposition: {n}"
    after = parse(text)
    assert value(after, "aegis_requests_total", model="-", version="-", code="404") - \
        value(before, "aegis_requests_total", model="-", version="-", code="404") == 15
    labeled = {dict(labels).get("model") for (name, labels) in after if name == "aegis_requests_total"}
    assert labeled <= set(MODELS) | {"-"}, labeled


def test_models_loaded_and_integrity_failures(inst):
    before = parse(scrape(inst))
    assert value(before, "aegis_models_loaded") == len(MODELS)
    # Unsigned: refused by the integrity gate before the body.
    r = inst.push("unsigned", "1", EXAMPLES / "mlp.onnx", "onnx", sign=False)
    assert r.status_code == 422 and "integrity check failed" in r.text, r.text
    # Signed but dangerous: the scanner refuses it with findings.
    pickle = b"cos\nsystem\n(S'touch /tmp/pwned'\ntR."
    r = inst.push("evil", "1", pickle, "onnx")
    assert r.status_code == 422 and "scanner found" in r.text, r.text
    # A good push is one more model loaded.
    inst.push_ok("mlp_extra", "1", EXAMPLES / "mlp.onnx", "onnx")
    after = parse(scrape(inst))
    assert value(after, "aegis_integrity_failures_total") - value(before, "aegis_integrity_failures_total") == 2
    assert value(after, "aegis_scan_findings_total") - value(before, "aegis_scan_findings_total") >= 1
    assert value(after, "aegis_models_loaded") == len(MODELS) + 1
    r = inst.delete("/v1/models/mlp_extra/versions/1")
    assert r.status_code == 200, r.text
    assert value(parse(scrape(inst)), "aegis_models_loaded") == len(MODELS)


def test_certificate_expiry_and_kek_age(inst):
    s = parse(scrape(inst))
    expiry = value(s, "aegis_tls_cert_expiry_seconds")
    assert 86400 < expiry < 3 * 366 * 86400, expiry
    kek = inst.dir / "keys" / "kek.key"
    assert kek.is_file()
    age = value(s, "aegis_kek_age_seconds")
    assert abs(age - (time.time() - kek.stat().st_mtime)) < 30, age


def test_locked_account_is_an_open_incident(inst):
    name = f"ghost{uuid.uuid4().hex[:8]}"
    before = parse(scrape(inst))
    # Ten failures lock a name (names that are not accounts lock alike).
    for _ in range(10):
        r = call(inst, "POST", "/v1/login", json_body={"user": name, "password": "x" * 12, "totp": "000000"})
        assert r.status_code == 401, r.text
    # The incident is raised off the request's thread: wait for it.
    deadline = time.monotonic() + 10
    after = parse(scrape(inst))
    while total(after, "aegis_incidents_open") == total(before, "aegis_incidents_open") and time.monotonic() < deadline:
        time.sleep(0.1)
        after = parse(scrape(inst))
    # A lockout opens a brute_force incident (docs/threat-detection.md, "Incidents and response").
    assert total(after, "aegis_incidents_open") - total(before, "aegis_incidents_open") == 1
    assert value(after, "aegis_incidents_open", kind="brute_force", severity="high") - \
        value(before, "aegis_incidents_open", kind="brute_force", severity="high") == 1
    assert value(after, "aegis_auth_attempts_total", method="password", result="failure") - \
        value(before, "aegis_auth_attempts_total", method="password", result="failure") == 10
    d = dashboard(inst)
    # The dashboard shows the incident record itself, with its timeline.
    items = [i for i in d["incidents"]["items"] if i["subject"] == f"user:{name}"]
    assert len(items) == 1 and items[0]["kind"] == "brute_force", d["incidents"]
    item = items[0]
    assert set(item) == {"id", "kind", "severity", "state", "subject", "first_seen", "last_seen", "count", "actions"}
    assert item["severity"] == "high" and item["state"] == "open" and item["count"] == 1, item
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", item["first_seen"]), item
    # Its open count is the metric's: one figure, two views.
    assert d["incidents"]["open"] == total(parse(scrape(inst)), "aegis_incidents_open"), d["incidents"]


# --------------------------------------------------------------------------- /v1/dashboard


def test_dashboard_shape(inst, auditor):
    d = dashboard(inst, token=auditor)
    assert set(d) == {"generated_at", "bucket_seconds", "series", "models", "stages", "incidents", "audit", "totals",
                      "runtime", "connections", "drift", "build", "denials", "integrity", "credentials"}
    assert d["drift"] == [], d["drift"]  # no model here has an input baseline
    assert set(d["connections"]) == {"active", "refused", "displaced", "timed_out"}, d["connections"]
    assert d["runtime"]["isolation"] == "process" and d["runtime"]["finding"] == "", d["runtime"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", d["generated_at"])
    assert d["bucket_seconds"] == 5
    s = d["series"]
    assert set(s) == {"time", "allowed", "denied", "auth_failures"}
    assert len(s["time"]) == 180
    assert all(b - a == 5 for a, b in zip(s["time"], s["time"][1:]))
    assert all(t % 5 == 0 for t in s["time"])
    assert set(s["auth_failures"]) == {"token", "session", "jwt", "mtls", "password"}
    for arr in [s["allowed"], s["denied"], *s["auth_failures"].values()]:
        assert len(arr) == 180 and all(isinstance(v, int) and v >= 0 for v in arr)
    assert sorted((m["name"], m["version"]) for m in d["models"]) == sorted((m, "1") for m in MODELS)
    for m in d["models"]:
        assert set(m) == {"name", "version", "format", "signer", "fingerprint", "requests", "latency_p50_ms",
                          "latency_p95_ms", "requests_per_second", "error_rate", "workers_up", "withdrawn"}
        assert m["signer"] == "test-publisher"
        assert m["error_rate"] == 0, m  # the share of the last minute's requests answered 5xx: none here
        assert m["workers_up"] == 2 and m["withdrawn"] is False, m
        assert re.match(r"^[0-9a-f]{64}$", m["fingerprint"]), m["fingerprint"]
        assert len(m["requests"]) == 180
        assert m["format"] in ("onnx", "xgboost")
    assert [st["stage"] for st in d["stages"]] == ["tls", "auth", "policy", "guard", "engine", "audit"]
    for st in d["stages"]:
        assert set(st) == {"stage", "count", "p50_ms", "p95_ms"}
        assert st["count"] > 0 and 0 <= st["p50_ms"] <= st["p95_ms"], st
    assert set(d["incidents"]) == {"open", "items"}
    assert set(d["audit"]) == {"tree_size", "signed_tree_size", "root", "signed_at", "key_fingerprint", "replica",
                               "verification"}
    assert set(d["audit"]["verification"]) == {"ok", "events", "checked_at", "detail"}
    # Heads are signed at least every second while events flow: wait for the first.
    deadline = time.monotonic() + 15
    while d["audit"]["signed_tree_size"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        d = dashboard(inst, token=auditor)
    a = d["audit"]
    assert 0 < a["signed_tree_size"] <= a["tree_size"], a
    assert re.match(r"^[0-9a-f]{64}$", a["root"]), a
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", a["signed_at"]), a
    key = json.loads((inst.dir / "audit" / "key.json").read_text())
    assert a["key_fingerprint"] == key["key_id"], (a, key)
    assert a["replica"] == "", a  # a single server's log names no replica
    v = a["verification"]
    assert v["ok"] is True and v["detail"] == "", v
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", v["checked_at"]), v
    assert set(d["totals"]) == {"requests", "allowed", "denied", "auth_failures", "models_loaded"}
    assert d["totals"]["models_loaded"] == len(MODELS)
    assert d["totals"]["requests"] == d["totals"]["allowed"] + d["totals"]["denied"]
    # The security sections (their contents are checked in the browser test and the OpenAPI test).
    assert set(d["build"]) == {"version", "revision"}
    assert set(d["integrity"]) == {"failures", "scan_findings", "load_failures", "recent"}
    assert set(d["credentials"]) == {"since", "tokens", "active", "break_glass", "no_expiry", "expired", "unused"}
    assert [t["name"] for t in d["credentials"]["break_glass"]] == ["admin"], d["credentials"]
    assert all(set(x) == {"time", "principal", "remote", "action", "resource", "status", "reason"}
               for x in d["denials"]), d["denials"][:3]
    inst.wait_audit(lambda e: e.get("action") == "dashboard.read" and e.get("principal") == "token:metrics-auditor"
                    and e.get("status") == 200)


def test_dashboard_moves_with_traffic(inst):
    before = dashboard(inst)
    for _ in range(4):
        assert inst.infer("xgb", sample_input("xgb")).status_code == 200
    wrong = "aegis_0123456789abcdef_" + "C" * 43
    for _ in range(2):
        assert inst.infer("xgb", sample_input("xgb"), headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    after = dashboard(inst)
    t = after["totals"]
    b = before["totals"]
    # The first dashboard read counts too (allowed, on the control plane) once it has ended,
    # which may be just after its response reached us.
    assert t["allowed"] - b["allowed"] in (4, 5)
    assert t["denied"] - b["denied"] == 2
    assert t["auth_failures"] - b["auth_failures"] == 2
    assert t["requests"] == t["allowed"] + t["denied"]
    # The server started less than 15 minutes ago: the window holds every request it counted.
    s = after["series"]
    assert sum(s["allowed"]) == t["allowed"] and sum(s["denied"]) == t["denied"]
    assert sum(sum(v) for v in s["auth_failures"].values()) == t["auth_failures"]
    assert sum(s["auth_failures"]["token"]) - sum(before["series"]["auth_failures"]["token"]) == 2
    # ... and the newest buckets hold what was just sent (one may have closed in between).
    assert sum(s["denied"][-2:]) >= 2
    xgb = next(m for m in after["models"] if m["name"] == "xgb")
    xgb_before = next(m for m in before["models"] if m["name"] == "xgb")
    assert sum(xgb["requests"]) - sum(xgb_before["requests"]) == 4, "the refused ones name no model"
    assert sum(xgb["requests"][-2:]) >= 4
    assert xgb["requests_per_second"] > 0
    assert 0 < xgb["latency_p50_ms"] <= xgb["latency_p95_ms"] < 10_000


# --------------------------------------------------------------------------- Grafana


def panels(dash: dict):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])  # collapsed rows


def test_grafana_dashboard_queries_metrics_the_server_exposes(inst):
    dash = json.loads(GRAFANA.read_text())
    assert dash.get("schemaVersion", 0) >= 30 and dash.get("title") and dash.get("uid")
    variables = dash["templating"]["list"]
    ds = [v for v in variables if v.get("type") == "datasource"]
    assert ds and ds[0]["query"] == "prometheus", variables
    exposed = family_names(scrape(inst))
    exprs = []
    ids = set()
    for p in panels(dash):
        if p.get("type") == "row":
            continue
        assert p["id"] not in ids, f"duplicate panel id {p['id']}"
        ids.add(p["id"])
        assert p.get("datasource", {}).get("uid") == "${" + ds[0]["name"] + "}", p["title"]
        targets = p.get("targets", [])
        assert targets, f"panel {p['title']!r} has no query"
        for t in targets:
            expr = t["expr"]
            names = set(re.findall(r"\baegis_[a-z_]+", expr))
            assert names, f"panel {p['title']!r}: no aegis metric in {expr!r}"
            for n in names:
                base = re.sub(r"_(bucket|sum|count)$", "", n)
                assert n in exposed or base in exposed, f"panel {p['title']!r} queries {n}, not exposed"
            exprs.append(expr)
    joined = " ".join(exprs)
    for metric in ["aegis_requests_total", "aegis_request_duration_seconds_bucket", "aegis_stage_duration_seconds_bucket",
                   "aegis_auth_attempts_total", "aegis_authz_denied_total", "aegis_integrity_failures_total",
                   "aegis_incidents_open", "aegis_audit_tree_size", "aegis_tls_cert_expiry_seconds",
                   "aegis_kek_age_seconds"]:
        assert metric in joined, f"no panel for {metric}"


def test_dedicated_listener_serves_only_metrics_to_certified_scrapers(inst, scrapers):
    """[metrics] listen + client_ca: GET /metrics without a token, only with a certificate from the CA; counted."""
    before = parse(scrape(inst))
    status, headers, text = on_metrics_listener(inst, "GET", "/metrics", scrapers["cert"])
    assert status == 200 and headers["Content-Type"] == CONTENT_TYPE, (status, text[:300])
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    request_id = headers["X-Request-Id"]
    for method, path in (("POST", "/metrics"), ("GET", "/v1/models"), ("GET", "/v2"), ("GET", "/v1/dashboard"),
                         ("GET", "/metrics?x=1"), ("GET", "/")):
        status, _, body = on_metrics_listener(inst, method, path, scrapers["cert"])
        assert status == 404 and "aegis_" not in body, (method, path, status, body[:200])
    after = parse(scrape(inst))
    assert value(after, "aegis_metrics_scrapes_total", listener="metrics") - \
        value(before, "aegis_metrics_scrapes_total", listener="metrics") == 1
    ev = inst.wait_audit(lambda e: e.get("listener") == "metrics" and e.get("resource") == "path:/v1/models")
    assert ev["action"] == "unknown" and ev["status"] == 404, ev
    assert not [e for e in inst.audit_events() if e.get("request_id") == request_id], "an answered scrape is audited"
    # No certificate, or one from another CA: refused in the TLS handshake, before any HTTP.
    for cert in (None, scrapers["foreign"]):
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            on_metrics_listener(inst, "GET", "/metrics", cert)


def test_bad_metrics_listener_refuses_to_start(tmp_path):
    """A bad [metrics] listen or one that clashes with another listener stops the start, naming the key."""
    i = Installation(tmp_path)
    i.init()
    i.set_config("metrics", "listen", "localhost")
    expect_refused_at_start(i, "a listen address without a port")
    last = i.last_stderr.read_text().strip().splitlines()[-1]
    assert last.startswith("aegis: ") and "metrics.listen: " in last, last
    i.set_config("metrics", "listen", f"127.0.0.1:{i.admin_port}")
    expect_refused_at_start(i, "the control plane's port")
    last = i.last_stderr.read_text().strip().splitlines()[-1]
    assert last.startswith("aegis: metrics.listen: ") and "server.admin_listen" in last, last


def test_alert_rules_load_fire_and_name_exported_metrics(inst):
    """deploy/prometheus/aegis-rules.yml: `promtool check rules`, its unit tests (`promtool test rules`: each alert
    fires on a synthetic series and stays quiet otherwise), and every metric it names is one this server exports."""
    proc = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([PROMTOOL, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules}
    assert {"AegisAuditVerificationFailed", "AegisAuditSinkDropping", "AegisIntegrityFailure", "AegisLoginLockout",
            "AegisModelErrorRateHigh", "AegisModelLatencyHigh"} <= alerts, alerts
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts <= tested, f"alerts without a promtool unit test: {alerts - tested}"
    exposed = family_names(scrape(inst))
    for r in rules:
        names = set(re.findall(r"\b(?:aegis|process)_[a-z_]+", r["expr"]))
        assert names, r["alert"]
        for n in names:
            base = re.sub(r"_(bucket|sum|count)$", "", n)
            assert n in exposed or base in exposed, f"{r['alert']} uses {n}, which the server does not export"
