"""Automatic incident response (issue 15, section 4), against the real server: a principal that
keeps being refused opens a rate_abuse incident whose playbook ([guard.response]) throttles it
within a second and alerts an Alertmanager-compatible receiver (a local HTTPS server: version
"4" payloads, firing then resolved); the throttle holds across a restart and lifts when the
incident is resolved; another token is never affected; an input outside its version's baseline
withdraws that version (503) while the server and the other models stay ready, until resolved; an audit sink that drops events opens an
"audit" incident; the time-to-detect and time-to-contain histograms count what happened.
"""

import json
import time

import numpy as np

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from aegis_testlib import Installation, free_port, stop_and_check
from identity_lib import TestCA, append_config, call, cli, labelled_metric, mlp_infer_body, start_with_models, \
    toml_string
from test_audit_sinks import WebhookReceiver, wait_for


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    ca = TestCA(tmp_path_factory.mktemp("alert-pki"), "Alert test CA")
    server = ca.issue("alertmanager", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alertmanager")]),
                      sans=("IP:127.0.0.1",), server=True)
    rx = WebhookReceiver(server)
    yield ca, rx
    rx.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, receiver):
    ca, rx = receiver
    inst = Installation(tmp_path_factory.mktemp("response"))
    inst.init()
    # The audit webhook points at a port nobody listens on, with room for one event: it
    # drops at once, which must open an "audit" incident.
    append_config(inst, (
        f"[guard.alerts]\nwebhook_url = {toml_string(rx.url)}\nca_file = {toml_string(str(ca.cert_path))}\n"
        f'receiver = "security"\n'
        f'[guard.response]\nrate_abuse = ["alert", "throttle"]\nthrottle_rate = "1/m"\n'
        f'out_of_distribution = ["alert", "withdraw"]\n'
        f'[audit.webhook]\nurl = "https://127.0.0.1:{free_port()}/down"\nca = {toml_string(str(ca.cert_path))}\n'
        f"queue_size = 1\ntimeout_seconds = 1\n"))
    start_with_models(inst)
    yield inst
    stop_and_check(inst)


def token(inst, name, *limits):
    p = cli(inst, "token", "create", "--name", name, "--role", "consumer", *limits, "--json", token=inst.token)
    assert p.returncode == 0, f"token create {name}: exit {p.returncode} {p.stderr.strip()!r}"
    return json.loads(p.stdout)["token"]


def infer(inst, tok):
    return call(inst, "POST", "/v2/models/fraud-mlp/infer", bearer=tok, json_body=mlp_infer_body())


def incidents(inst, kind=None):
    p = cli(inst, "incident", "list", "--json", token=inst.token)
    assert p.returncode == 0, p.stderr
    return [i for i in json.loads(p.stdout)["incidents"] if kind is None or i["kind"] == kind]


def alerts(rx, status=None):
    out = []
    for r in rx.received():
        body = json.loads(r["body"])
        out += [(body, a) for a in body["alerts"] if status is None or a["status"] == status]
    return out


def metric_sum(inst, name):
    text = call(inst, "GET", "/metrics", bearer=inst.token, admin=True).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def throttled(inst, tok):
    """After a pause that refills the token's own bucket (2/s, a burst of 2), two requests: both
    pass unless the throttle's bucket (1/m, a burst of 1) holds the principal, which refuses
    one of them (its last token may be left from the flood) with its own policy."""
    time.sleep(1.1)
    answers = [infer(inst, tok), infer(inst, tok)]
    for r in answers:
        assert r.status_code in (200, 429), f"{r.status_code} {r.text[:200]}"
        if r.status_code == 429:
            assert r.headers.get("RateLimit-Policy") == '"principal-throttled";q=1;w=60', dict(r.headers)
    return any(r.status_code == 429 for r in answers)


def test_refused_flood_is_throttled_alerted_and_released_on_resolve(srv, receiver):
    _, rx = receiver
    abuser = token(srv, "abuser", "--rate", "2/s", "--burst", "2")
    bystander = token(srv, "bystander")
    assert not throttled(srv, abuser), "not throttled before any incident"
    contain_before = metric_sum(srv, "aegis_incident_contain_seconds_count")
    detect_before = metric_sum(srv, "aegis_incident_detect_seconds_count")
    # 100 refusals within a minute open rate_abuse (docs/threat-detection.md).
    refused = 0
    while refused < 110:
        r = infer(srv, abuser)
        refused += r.status_code == 429
    found = wait_for(lambda: incidents(srv, "rate_abuse"), timeout=10, what="the rate_abuse incident")
    incident = found[0]
    assert incident["principal"] == "token:abuser", incident
    actions = {a["action"]: a for a in incident["actions"]}
    assert set(actions) == {"alert", "throttle"}, incident["actions"]
    assert actions["throttle"]["outcome"].startswith("throttled token:abuser to 1/m"), actions
    # Contained in under a second: the histogram counted it in a bucket up to 1 s.
    assert metric_sum(srv, "aegis_incident_contain_seconds_count") == contain_before + 1
    assert metric_sum(srv, "aegis_incident_detect_seconds_count") >= detect_before + 1
    assert labelled_metric(srv, "aegis_incident_contain_seconds_bucket", {"le": "1"}) >= contain_before + 1
    assert throttled(srv, abuser), "the playbook's throttle holds the abuser"
    assert labelled_metric(srv, "aegis_rate_limited_total", {"reason": "throttle"}) >= 1
    for _ in range(5):
        assert infer(srv, bystander).status_code == 200, "another token is never throttled"

    # The receiver got a firing alert in Alertmanager's webhook format.
    firing = wait_for(lambda: [x for x in alerts(rx, "firing") if x[1]["labels"].get("incident") == incident["id"]],
                      what="the firing alert")
    body, alert = firing[0]
    assert body["version"] == "4" and body["receiver"] == "security" and body["status"] == "firing", body
    assert body["groupLabels"] == {"alertname": "rate_abuse"}, body
    assert alert["labels"]["alertname"] == "rate_abuse" and alert["labels"]["principal"] == "token:abuser", alert
    assert alert["startsAt"] == incident["first_seen"] and alert["endsAt"] == "0001-01-01T00:00:00Z", alert
    assert len(alert["fingerprint"]) == 16, alert
    assert all(r["headers"].get("Content-Type") == "application/json" for r in rx.received())

    # The throttle lives in memory; the unresolved incident brings it back after a restart.
    srv.stop()
    srv.start()
    srv.wait_ready(60)
    assert throttled(srv, abuser), "the throttle is re-applied at start"

    # Resolving lets go, and tells the receiver.
    p = cli(srv, "incident", "resolve", incident["id"], "--note", "load test, approved", token=srv.token)
    assert p.returncode == 0, p.stderr
    assert not throttled(srv, abuser), "the throttle lifts with its incident"
    resolved = wait_for(lambda: [x for x in alerts(rx, "resolved") if x[1]["labels"].get("incident") == incident["id"]],
                        what="the resolved alert")
    body, alert = resolved[0]
    assert body["status"] == "resolved" and alert["fingerprint"] == firing[0][1]["fingerprint"], alert
    assert alert["endsAt"] > alert["startsAt"], alert
    assert "load test, approved" in alert["annotations"]["description"], alert
    events = [e for e in srv.audit_events() if e.get("resource") == f"incident:{incident['id']}"]
    assert any("throttle lifted for token:abuser" in e.get("reason", "") + e.get("detail", "") for e in events), events


def test_a_sink_that_drops_audit_events_opens_an_audit_incident(srv):
    found = wait_for(lambda: incidents(srv, "audit"), timeout=30, what="the audit incident")
    assert any(i["severity"] == "medium" and i["principal"] == "" for i in found), found
    assert labelled_metric(srv, "aegis_incidents_open", {"kind": "audit", "severity": "medium"}) >= 1


def test_an_out_of_distribution_input_withdraws_the_version_until_resolved(srv, tmp_path):
    # other-mlp's baseline: feature f uniform in [f, f + 1].
    rows = (np.random.default_rng(7).random((200, 4), dtype=np.float32) + np.arange(4, dtype=np.float32))
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [200, 4],
                                            "data": rows.ravel().tolist()}]}))
    p = cli(srv, "model", "baseline", "other-mlp", "--version", "1", "--data", str(path), token=srv.token)
    assert p.returncode == 0, p.stderr

    def other(row):
        return call(srv, "POST", "/v2/models/other-mlp/infer", bearer=srv.token,
                    json_body={"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": row}]})

    assert other([0.5, 1.5, 2.5, 3.5]).status_code == 200
    assert not incidents(srv, "out_of_distribution"), "an in-distribution row opens nothing"
    assert other([1000.0, 1.5, 2.5, 3.5]).status_code == 200, "flagged, not refused (screening = flag)"
    found = wait_for(lambda: incidents(srv, "out_of_distribution"), timeout=10, what="the out_of_distribution incident")
    incident = found[0]
    assert incident["model"] == "other-mlp", incident
    withdraw = [a for a in incident["actions"] if a["action"] == "withdraw"]
    assert withdraw and withdraw[0]["outcome"].startswith("withdrew other-mlp/1"), incident["actions"]
    refused = other([0.5, 1.5, 2.5, 3.5])
    assert refused.status_code == 503 and "withdrawn" in refused.json()["error"], refused.text
    assert call(srv, "GET", "/v2/models/other-mlp/versions/1/ready", bearer=srv.token).status_code == 503
    # One withdrawn version does not take the server, or the other models, out of service.
    assert call(srv, "GET", "/v2/health/ready").status_code == 200
    assert infer(srv, srv.token).status_code == 200
    p = cli(srv, "incident", "resolve", incident["id"], "--note", "checked: a test input", token=srv.token)
    assert p.returncode == 0, p.stderr
    assert other([0.5, 1.5, 2.5, 3.5]).status_code == 200, "serving again once resolved"
