"""API tokens from the CLI (issue 5): `aegis token create|list|revoke`, TTLs, scopes, input
validation, secrets never listed, revocation on the next request, and retiring the
break-glass admin token from `aegis init` once a human admin exists.
"""

import http.server
import json
import re
import ssl
import threading
import time

import pytest

from aegis_testlib import RFC3339, Installation, stop_and_check
from identity_lib import (start_with_models, MLP_ONNX, TOKEN_RE, TestCA, call, check_401, cli, create_user,
                          json_error, login_session, name, one_line_error, rfc3339_to_epoch, run_cli,
                          signed_push_headers, token_id)

LIST_FIELDS = {"id", "name", "role", "models", "created_at", "created_by", "expires_at", "revoked", "limits"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("tokens"))
    inst.init()
    start_with_models(inst)
    yield inst
    stop_and_check(inst)


def create(inst, *args):
    p = cli(inst, "token", "create", *args, "--json", token=inst.token)
    assert p.returncode == 0, f"aegis token create {' '.join(args)}: exit {p.returncode} {p.stderr.strip()!r}"
    out = json.loads(p.stdout)
    m = TOKEN_RE.match(out.get("token", ""))
    assert m, f"token has not the aegis_<16hex>_<43> form: {out}"
    assert re.fullmatch(r"[0-9a-f]{16}", out.get("id", "")) and m.group(1) == out["id"], out
    assert "expires_at" in out, out
    return out


def push(inst, name, token):
    data = MLP_ONNX.read_bytes()
    return call(inst, "PUT", f"/v1/models/{name}/versions/1?format=onnx", bearer=token, body=data,
                headers=signed_push_headers(inst, data))


def test_create_scoped_token_and_use_it(srv):
    t0 = time.time()
    out = create(srv, "--name", "ci-deployer", "--role", "deployer", "--models", "fraud-*", "--ttl", "2h")
    assert (out.get("name"), out.get("role"), out.get("models")) == ("ci-deployer", "deployer", "fraud-*"), out
    assert RFC3339.match(out["expires_at"]), out
    assert abs(rfc3339_to_epoch(out["expires_at"]) - (t0 + 7200)) < 60, out
    tok = out["token"]
    r = push(srv, "fraud-by-ci", tok)
    assert r.status_code == 201, f"deployer token pushing in scope -> {r!r}"
    r = push(srv, "other-by-ci", tok)
    assert r.status_code == 403 and json_error(r), f"deployer token pushing out of scope -> {r!r}"
    names = {m["name"] for m in call(srv, "GET", "/v1/models", bearer=tok).json()["models"]}
    assert names == {"fraud-mlp", "fraud-by-ci"}, names
    assert call(srv, "POST", "/v2/models/fraud-mlp/infer", bearer=tok, json_body={}).status_code == 403, \
        "a deployer has no data-plane role"
    w = call(srv, "GET", "/v1/whoami", bearer=tok).json()
    assert (w.get("principal"), w.get("method"), w.get("grants")) == \
        ("token:ci-deployer", "token", ["deployer:fraud-*"]), w


@pytest.mark.parametrize("ttl,seconds", [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800)])
def test_ttl_durations(srv, ttl, seconds):
    t0 = time.time()
    out = create(srv, "--name", f"ttl-{ttl}", "--role", "consumer", "--ttl", ttl)
    assert abs(rfc3339_to_epoch(out["expires_at"]) - (t0 + seconds)) < 60, (ttl, out)
    assert call(srv, "GET", "/v2", bearer=out["token"]).status_code == 200


def test_no_ttl_never_expires(srv):
    out = create(srv, "--name", "forever", "--role", "consumer")
    assert out["expires_at"] is None, f"no --ttl: expires_at must be null, got {out['expires_at']!r}"
    assert out.get("models") == "*", out
    listed = {t["id"]: t for t in call(srv, "GET", "/v1/tokens", bearer=srv.token).json()["tokens"]}
    assert listed[out["id"]]["expires_at"] is None, listed[out["id"]]


def test_list_never_shows_a_secret(srv):
    out = create(srv, "--name", "listed", "--role", "auditor")
    secret = TOKEN_RE.match(out["token"]).group(2)
    p = cli(srv, "token", "list", "--json", token=srv.token)
    assert p.returncode == 0, p.stderr
    tokens = {t["id"]: t for t in json.loads(p.stdout)["tokens"]}
    t = tokens[out["id"]]
    assert set(t) == LIST_FIELDS, f"token list fields {sorted(t)} (expected {sorted(LIST_FIELDS)})"
    assert (t["name"], t["role"], t["models"], t["revoked"]) == ("listed", "auditor", "*", False), t
    assert RFC3339.match(t["created_at"]) and t["created_by"], t
    p2 = cli(srv, "token", "list", token=srv.token)
    assert p2.returncode == 0 and "listed" in p2.stdout, p2.stderr
    api = call(srv, "GET", "/v1/tokens", bearer=srv.token)
    admin_secret = TOKEN_RE.match(srv.token).group(2)
    for where, text in (("token list --json", p.stdout), ("token list", p2.stdout), ("GET /v1/tokens", api.text)):
        for s in (out["token"], secret, srv.token, admin_secret):
            assert s not in text, f"{where} shows a token secret"
    for entry in api.json()["tokens"]:
        assert set(entry) == LIST_FIELDS, f"GET /v1/tokens entry fields {sorted(entry)}"


def test_revoke_takes_effect_on_the_next_request(srv):
    out = create(srv, "--name", "short-lived", "--role", "consumer", "--models", "fraud-*")
    tok = out["token"]
    assert call(srv, "GET", "/v2/models/fraud-mlp", bearer=tok).status_code == 200
    p = cli(srv, "token", "revoke", out["id"], token=srv.token)
    assert p.returncode == 0, p.stderr
    r = call(srv, "GET", "/v2/models/fraud-mlp", bearer=tok)
    problem = check_401(r, "a revoked token")
    assert problem is None, problem
    assert "revoked" in json_error(r).lower(), r
    p = cli(srv, "token", "list", "--json", token=srv.token)
    assert {t["id"]: t for t in json.loads(p.stdout)["tokens"]}[out["id"]]["revoked"] is True
    problem = one_line_error(cli(srv, "token", "revoke", "0123456789abcdef", token=srv.token))
    assert problem is None, f"revoking an unknown id: {problem}"


BAD_CREATE = [
    ("unknown role", ["--name", "bad1", "--role", "root"]),
    ("ttl 0s", ["--name", "bad2", "--role", "consumer", "--ttl", "0s"]),
    ("ttl below 60 s", ["--name", "bad3", "--role", "consumer", "--ttl", "59s"]),
    ("ttl above a year", ["--name", "bad4", "--role", "consumer", "--ttl", "366d"]),
    ("ttl not a duration", ["--name", "bad5", "--role", "consumer", "--ttl", "soon"]),
    ("ttl with an unknown unit", ["--name", "bad6", "--role", "consumer", "--ttl", "10w"]),
    ("negative ttl", ["--name", "bad7", "--role", "consumer", "--ttl=-5m"]),
    ("bad glob", ["--name", "bad8", "--role", "consumer", "--models", "fraud-["]),
    ("scoped admin", ["--name", "bad9", "--role", "admin", "--models", "fraud-*"]),
    ("scoped auditor", ["--name", "bad10", "--role", "auditor", "--models", "fraud-*"]),
    ("name with a space", ["--name", "bad 11", "--role", "consumer"]),
]


@pytest.mark.parametrize("label,args", BAD_CREATE, ids=[b[0] for b in BAD_CREATE])
def test_bad_create_is_one_line_error(srv, label, args):
    p = cli(srv, "token", "create", *args, "--json", token=srv.token)
    problem = one_line_error(p)
    assert problem is None, f"{label}: {problem}"
    name = args[1]
    listed = call(srv, "GET", "/v1/tokens", bearer=srv.token).json()["tokens"]
    assert name not in {t["name"] for t in listed}, f"{label}: a token was created anyway"


@pytest.mark.parametrize("body,status", [
    ({"name": "api-ttl-59", "role": "consumer", "ttl_seconds": 59}, 400),
    ({"name": "api-ttl-60", "role": "consumer", "ttl_seconds": 60}, 201),
    ({"name": "api-ttl-max", "role": "consumer", "ttl_seconds": 31536000}, 201),
    ({"name": "api-ttl-max1", "role": "consumer", "ttl_seconds": 31536001}, 400),
    ({"name": "api-ttl-str", "role": "consumer", "ttl_seconds": "3600"}, 400),
    ({"name": "api-role", "role": "superuser"}, 400),
    ({"name": "api-admin-scoped", "role": "admin", "models": "x*"}, 400),
    ({"name": "api-glob", "role": "deployer", "models": "[abc"}, 400),
    ({"name": "api-admin-star", "role": "admin", "models": "*"}, 201),
    ({"role": "consumer"}, 400),
])
def test_create_via_api_validation(srv, body, status):
    r = call(srv, "POST", "/v1/tokens", bearer=srv.token, json_body=body)
    assert r.status_code == status, f"POST /v1/tokens {body} -> {r!r} (expected {status})"
    if status == 201:
        j = r.json()
        assert {"id", "token", "name", "role", "models", "created_at", "expires_at"} <= set(j), j
        if "ttl_seconds" in body:
            created, expires = rfc3339_to_epoch(j["created_at"]), rfc3339_to_epoch(j["expires_at"])
            assert abs(expires - created - body["ttl_seconds"]) <= 1, j
    else:
        assert json_error(r), r


# --------------------------------------------------------------------------- list states, actionable errors (issue 16)


class FakeControlPlane:
    """Answers GET paths with fixed JSON over HTTPS (a certificate from a TestCA)."""

    def __init__(self, answers: dict, cert, key):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                body = json.dumps(answers[self.path]).encode() if self.path in answers else b'{"error": "no"}'
                self.send_response(200 if self.path in answers else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def listed_token(tid, name, expires_at, revoked=False):
    return {"id": tid, "name": name, "role": "consumer", "models": "*", "created_at": "2026-01-01T00:00:00.000000Z",
            "created_by": "init", "expires_at": expires_at, "revoked": revoked, "limits": None}


def test_list_shows_expired_tokens_as_expired(tmp_path):
    """A token past its expiry is `expired`, not `active` (the server keeps it for the record)."""
    ca = TestCA(tmp_path, "fake control plane")
    cert, key = ca.issue("server", name("127.0.0.1"), sans=["IP:127.0.0.1"], server=True)
    tokens = [listed_token("00000000000000a1", "old-one", "2020-01-01T00:00:00.000000Z"),
              listed_token("00000000000000a2", "fresh-one", "2999-01-01T00:00:00.000000Z"),
              listed_token("00000000000000a3", "forever", None),
              listed_token("00000000000000a4", "gone", "2020-01-01T00:00:00.000000Z", revoked=True)]
    fake = FakeControlPlane({"/v1/tokens": {"tokens": tokens}}, cert, key)
    try:
        p = run_cli("token", "list", env={"AEGIS_SERVER": fake.url, "AEGIS_CACERT": str(ca.cert_path),
                                          "AEGIS_TOKEN": "aegis_0000000000000000_x"})
    finally:
        fake.close()
    assert p.returncode == 0, p.stderr
    states = {line.split()[1]: line.split()[4] for line in p.stdout.splitlines()[1:]}
    assert states == {"old-one": "expired", "fresh-one": "active", "forever": "active", "gone": "revoked"}, p.stdout


def test_connection_errors_say_what_to_do(srv, tmp_path):
    base = {"AEGIS_TOKEN": srv.token}
    # A CA that does not exist, or is no file, is named with where it came from.
    p = run_cli("token", "list", env={**base, "AEGIS_SERVER": f"https://127.0.0.1:{srv.admin_port}",
                                      "AEGIS_CACERT": str(tmp_path / "nope.crt")})
    assert one_line_error(p) is None and "nope.crt" in p.stderr and "AEGIS_CACERT" in p.stderr \
        and "does not exist" in p.stderr, p.stderr
    p = run_cli("token", "list", "--cacert", str(tmp_path), env={**base, "AEGIS_SERVER":
                                                                 f"https://127.0.0.1:{srv.admin_port}"})
    assert one_line_error(p) is None and "--cacert" in p.stderr and "folder" in p.stderr, p.stderr
    # A certificate the client does not trust: the fix is named.
    other = TestCA(tmp_path / "other", "some other CA")
    p = run_cli("token", "list", env={**base, "AEGIS_SERVER": f"https://127.0.0.1:{srv.admin_port}",
                                      "AEGIS_CACERT": str(other.cert_path)})
    assert one_line_error(p) is None, p.stderr
    for hint in ("--cacert", "AEGIS_CACERT", "tls/ca.crt"):
        assert hint in p.stderr, p.stderr
    # The data plane's port instead of the control plane's: it says so.
    p = run_cli("token", "list", env={**base, "AEGIS_SERVER": f"https://127.0.0.1:{srv.data_port}",
                                      "AEGIS_CACERT": str(srv.ca)})
    assert one_line_error(p) is None and "this is the data plane" in p.stderr, p.stderr
    # A model name that cannot be one says which characters are allowed.
    p = cli(srv, "model", "push", "bad name!", "--version", "1", "--file", str(MLP_ONNX), "--format", "onnx",
            token=srv.token)
    assert one_line_error(p) is None and "letters, digits, '.', '_' or '-'" in p.stderr, p.stderr


def test_model_list_shows_state_and_who_pushed(srv):
    p = cli(srv, "model", "list", token=srv.token)
    assert p.returncode == 0, p.stderr
    header, *rows = p.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "VERSION", "FORMAT", "STATE"] and "PUSHED BY" in header, header
    mlp = next(r for r in rows if r.startswith("fraud-mlp "))
    assert " serving " in mlp and "token:admin" in mlp, mlp
    listed = json.loads(cli(srv, "model", "list", "--json", token=srv.token).stdout)["models"]
    assert all(m["state"] in ("serving", "withdrawn", "failed", "not serving") for m in listed), listed


def test_break_glass_token_retirement(srv):
    """Last in the module: after a human admin exists, the init token is revoked; the human
    admin's session keeps working and can still manage tokens."""
    human = create_user(srv, "root-human", "admin")
    session = login_session(srv, human)
    init_id = token_id(srv.token)
    p = cli(srv, "token", "revoke", init_id, token=session)
    assert p.returncode == 0, f"revoking the init admin token with a fresh admin session: {p.stderr}"
    problem = check_401(call(srv, "GET", "/v1/models", bearer=srv.token), "the retired init admin token")
    assert problem is None, problem
    problem = check_401(call(srv, "GET", "/v2", bearer=srv.token), "the retired init token, data plane")
    assert problem is None, problem
    r = call(srv, "GET", "/v1/tokens", bearer=session)
    assert r.status_code == 200, r
    assert {t["id"]: t for t in r.json()["tokens"]}[init_id]["revoked"] is True
    p = cli(srv, "token", "create", "--name", "after-break-glass", "--role", "admin", "--json", token=session)
    assert p.returncode == 0, p.stderr
    new_admin = json.loads(p.stdout)["token"]
    assert call(srv, "GET", "/v1/models", bearer=new_admin).status_code == 200
    assert call(srv, "GET", "/v1/whoami", bearer=session).json().get("principal") == "user:root-human"
