"""The guard stage's limits (issue 15, section 1), against the real server: per-principal
token buckets and daily quotas (server defaults and a credential's own), a model's own rate,
requests in flight, failed authentications per source address before any credential check,
the 429 with Retry-After and the RateLimit header fields, audit, metrics, and persistence.
"""

import json
import re
import socket
import ssl
import time

import pytest

from aegis_testlib import Installation, stop_and_check
from identity_lib import (User, call, cli, json_error, labelled_metric, login_session, mlp_infer_body, one_line_error,
                          parse_totp_uri, start_with_models, strong_password)

# Every principal keeps the server's default rate (1000/s) so the admin token is never
# throttled; the tests give their own tokens small limits. Two requests in flight per
# principal; five failed authentications a minute per address; other-mlp has a rate of
# its own.
CONFIG = {
    ("guard", "concurrency"): 2,
    ("guard", "auth_failures"): "5/m",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("guard"))
    inst.init()
    for (section, key), value in CONFIG.items():
        inst.set_config(section, key, value)
    with open(inst.config_path, "a") as f:
        f.write('\n[models."other-mlp"]\nrate = "2/m"\n')
    start_with_models(inst)
    yield inst
    stop_and_check(inst)


def token(inst, name, *limits):
    p = cli(inst, "token", "create", "--name", name, "--role", "consumer", *limits, "--json", token=inst.token)
    assert p.returncode == 0, f"token create {name} {limits}: exit {p.returncode} {p.stderr.strip()!r}"
    return json.loads(p.stdout)


def infer(inst, tok, model="fraud-mlp", source=None):
    return call(inst, "POST", f"/v2/models/{model}/infer", bearer=tok, json_body=mlp_infer_body(), source=source)


def assert_429(r, policy_re, what):
    assert r.status_code == 429, f"{what}: {r.status_code} {r.text[:200]}"
    assert json_error(r), f"{what}: no JSON error body: {r.text[:200]}"
    retry = r.headers.get("Retry-After", "")
    assert re.fullmatch(r"[1-9][0-9]*", retry), f"{what}: Retry-After {retry!r} is not whole seconds >= 1"
    policy = r.headers.get("RateLimit-Policy", "")
    assert re.fullmatch(policy_re, policy), f"{what}: RateLimit-Policy {policy!r} !~ {policy_re}"
    limit = r.headers.get("RateLimit", "")
    assert re.fullmatch(r'"[a-z-]+";r=0;t=[1-9][0-9]*', limit), f"{what}: RateLimit {limit!r}"
    return int(retry)


def test_a_flood_from_one_token_gets_429_while_another_is_served(srv):
    flood = token(srv, "flood", "--rate", "6/m", "--burst", "3")
    assert flood["limits"] == {"rate": "6/m", "burst": 3, "quota": None}, flood
    calm = token(srv, "calm")
    assert calm["limits"] is None, calm
    before = labelled_metric(srv, "aegis_rate_limited_total", {"reason": "rate"})
    for i in range(3):
        r = infer(srv, flood["token"])
        assert r.status_code == 200, f"request {i} within the burst: {r.status_code} {r.text[:200]}"
    retry = assert_429(infer(srv, flood["token"]), r'"principal";q=3;w=30', "over the burst")
    assert retry <= 10, f"one request's worth comes back in 10 s at 6/m, Retry-After {retry}"
    for i in range(20):
        r = infer(srv, calm["token"])
        assert r.status_code == 200, f"another token, request {i}: {r.status_code} {r.text[:200]}"
    # Health probes are never limited, whatever the floods do.
    for path in ("/v2/health/live", "/v2/health/ready"):
        for _ in range(10):
            assert call(srv, "GET", path, admin=False).status_code == 200, path
    assert labelled_metric(srv, "aegis_rate_limited_total", {"reason": "rate"}) >= before + 1
    event = srv.wait_audit(lambda e: e.get("principal") == "token:flood" and e.get("decision") == "deny",
                           what="the 429's audit event")
    assert "rate limited (rate)" in event.get("reason", ""), event
    assert event.get("status") == 429, event


def test_a_daily_quota_ends_with_a_daily_policy(srv):
    quota = token(srv, "quota", "--quota", "2/d")
    assert quota["limits"] == {"rate": None, "burst": None, "quota": 2}, quota
    for _ in range(2):
        assert infer(srv, quota["token"]).status_code == 200
    retry = assert_429(infer(srv, quota["token"]), r'"principal";q=1000;w=1, "principal-daily";q=2;w=86400',
                       "over the quota")
    assert 1 <= retry <= 86400, retry
    assert labelled_metric(srv, "aegis_rate_limited_total", {"reason": "quota"}) >= 1


def test_a_models_own_rate_applies_per_principal_on_that_model(srv):
    a, b = token(srv, "model-a"), token(srv, "model-b")
    for _ in range(2):
        assert infer(srv, a["token"], "other-mlp").status_code == 200
    r = infer(srv, a["token"], "other-mlp")
    assert_429(r, r'"model";q=2;w=60', "other-mlp's own rate")
    assert "other-mlp" in json_error(r), json_error(r)
    assert infer(srv, a["token"], "fraud-mlp").status_code == 200, "another model is not limited by it"
    assert infer(srv, b["token"], "other-mlp").status_code == 200, "another principal has its own bucket"


def test_failed_authentications_are_limited_per_address_before_any_credential_check(srv):
    good = token(srv, "good")
    bad = "aegis_0123456789abcdef_" + "A" * 43
    for i in range(5):
        r = infer(srv, bad, source="127.0.0.3")
        assert r.status_code == 401, f"failure {i}: {r.status_code}"
    # The budget is spent: even a valid token from that address is not looked at.
    r = infer(srv, good["token"], source="127.0.0.3")
    assert_429(r, r'"auth-failures";q=5;w=60', "after five failures")
    assert labelled_metric(srv, "aegis_rate_limited_total", {"reason": "auth_failures"}) >= 1
    # Another address, and the health probes of this one, are untouched.
    assert infer(srv, good["token"], source="127.0.0.4").status_code == 200
    assert call(srv, "GET", "/v2/health/ready", admin=False, source="127.0.0.3").status_code == 200


def open_upload(inst, tok):
    """Starts an inference whose body never finishes: it holds a request in flight."""
    ctx = ssl.create_default_context(cafile=inst.ca)
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", inst.data_port), timeout=10),
                           server_hostname="127.0.0.1")
    sock.sendall((f"POST /v2/models/fraud-mlp/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{").encode())
    return sock


def test_requests_in_flight_are_capped_per_principal(srv):
    busy, other = token(srv, "busy"), token(srv, "other")
    held = [open_upload(srv, busy["token"]) for _ in range(2)]
    try:
        deadline = time.time() + 10
        while True:
            r = infer(srv, busy["token"])
            if r.status_code == 429 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert_429(r, r'"concurrency";q=2', "a third request in flight")
        assert infer(srv, other["token"]).status_code == 200, "another principal is not capped by it"
    finally:
        for s in held:
            s.close()
    deadline = time.time() + 10
    while infer(srv, busy["token"]).status_code != 200:
        assert time.time() < deadline, "the slots were not given back when the uploads ended"
        time.sleep(0.1)


def test_bad_limits_are_refused_with_a_clear_error(srv):
    for args, needle in ((["--rate", "10/x"], "rate"), (["--rate", "0/s"], "rate"), (["--rate", "off"], "off"),
                         (["--burst", "5"], "burst needs a rate"), (["--quota", "5"], "--quota"),
                         (["--quota", "0/d"], "--quota")):
        p = cli(srv, "token", "create", "--name", "bad", "--role", "consumer", *args, token=srv.token)
        problem = one_line_error(p)
        assert problem is None, f"{args}: {problem}"
        assert needle in p.stderr, f"{args}: {p.stderr.strip()!r}"
    for body in ({"burst": -1, "rate": "1/s"}, {"quota": 0}, {"rate": 5}, {"rate": "5/s", "burst": 2**40}):
        r = call(srv, "POST", "/v1/tokens", bearer=srv.token,
                 json_body={"name": "bad", "role": "consumer", **body})
        assert r.status_code == 400 and json_error(r), f"{body}: {r.status_code} {r.text[:200]}"
    names = [t["name"] for t in call(srv, "GET", "/v1/tokens", bearer=srv.token).json()["tokens"]]
    assert "bad" not in names, "a refused token was stored"


def test_user_limits_apply_to_their_sessions(srv):
    password = strong_password()
    r = call(srv, "POST", "/v1/users", bearer=srv.token,
             json_body={"name": "limited", "role": "consumer", "password": password, "rate": "2/m"})
    assert r.status_code == 201, r.text
    assert r.json()["limits"] == {"rate": "2/m", "burst": None, "quota": None}, r.json()
    listed = {u["name"]: u for u in call(srv, "GET", "/v1/users", bearer=srv.token).json()["users"]}
    assert listed["limited"]["limits"]["rate"] == "2/m", listed["limited"]
    person = User("limited", "consumer", "*", password, parse_totp_uri(r.json()["totp_uri"], "limited"))
    session = login_session(srv, person)
    for _ in range(2):
        assert infer(srv, session).status_code == 200
    assert_429(infer(srv, session), r'"principal";q=2;w=60', "the user's own rate, on a session")


def test_limits_survive_a_restart(tmp_path):
    inst = Installation(tmp_path / "restart")
    inst.init()
    start_with_models(inst)
    try:
        tok = token(inst, "kept", "--rate", "1/h", "--burst", "1")
        assert infer(inst, tok["token"]).status_code == 200
        assert infer(inst, tok["token"]).status_code == 429
        inst.stop()
        inst.start()
        inst.wait_ready(60)
        listed = {t["name"]: t for t in call(inst, "GET", "/v1/tokens", bearer=inst.token).json()["tokens"]}
        assert listed["kept"]["limits"] == {"rate": "1/h", "burst": 1, "quota": None}, listed["kept"]
        # A fresh bucket after the restart, and the credential's own limit still in force.
        assert infer(inst, tok["token"]).status_code == 200
        assert_429(infer(inst, tok["token"]), r'"principal";q=1;w=3600', "after the restart")
    finally:
        stop_and_check(inst)


def test_a_bad_guard_setting_refuses_to_start(tmp_path):
    for key, value, needle in (("rate", "fast", "guard.rate"), ("burst", 0, "guard.burst"),
                               ("concurrency", -1, "guard.concurrency"), ("nonsense", 1, "guard.nonsense")):
        inst = Installation(tmp_path / f"bad-{key}")
        inst.init()
        inst.set_config("guard", key, value)
        inst.start(wait=False)
        assert inst.proc.wait(60) != 0, f"[guard] {key} = {value!r} started"
        err = [l for l in inst.last_stderr.read_text().splitlines() if l.strip()]
        assert err and needle in err[-1], f"[guard] {key} = {value!r}: {err[-3:]}"
