"""Mutual TLS (issue 5): `[tls] client_ca` + `[[auth.mtls]]` mappings by subject (RFC 2253,
exact) or SAN (URI/DNS/email). A verified, mapped client certificate is a principal with the
mapping's role and scope; a verified but unmapped one is 401; one from a foreign CA fails the
handshake; a bearer credential, when present, is judged alone. With require_client_cert the
handshake needs a certificate, and the CLI's --cert/--key (or AEGIS_CERT/AEGIS_KEY) work.

Certificates are made here with python3-cryptography from test CAs.
"""

import http.client
import json
import shutil
import time

import pytest
from cryptography import x509

from aegis_testlib import Installation, stop_and_check
from identity_lib import (start_with_models, MLP_ONNX, expect_refused_at_start, TestCA, call, check_401, cli, create_token, event_for, json_error,
                          mlp_infer_body, mtls_config, name, one_line_error, append_config,
                          signed_push_headers)

NOT_MAPPED = "client certificate is not mapped to an identity"

MAPPINGS = [
    {"subject": "CN=ops-admin,O=Acme", "role": "admin"},
    {"subject": "CN=scorer,O=Acme", "role": "consumer", "models": "fraud-*"},
    {"san": "URI:spiffe://acme/auditor", "role": "auditor"},
    {"san": "DNS:deployer.acme.test", "role": "deployer", "models": "fraud-*"},
    {"san": "email:ml@acme.test", "role": "consumer"},
]


class Pki:
    def __init__(self, root):
        self.ca = TestCA(root / "client-ca", "Aegis test client CA")
        self.foreign = TestCA(root / "foreign-ca", "Foreign CA")
        issue = self.ca.issue
        self.certs = {
            "admin": issue("admin", name("ops-admin")),
            "scorer": issue("scorer", name("scorer")),
            "auditor": issue("auditor", name("audit-bot"), sans=["URI:spiffe://acme/auditor"]),
            "deployer": issue("deployer", name("deploy-bot"), sans=["DNS:deployer.acme.test"]),
            "mailer": issue("mailer", name("mail-bot"), sans=["email:ml@acme.test"]),
            "stranger": issue("stranger", name("stranger")),
            # Near misses of mapped identities: exact matching only.
            "other-org": issue("other-org", name("scorer", "Acme Corp")),
            "injected": issue("injected", name("scorer,O=Acme", None)),
            "san-lookalike": issue("san-lookalike", name("x"), sans=["URI:spiffe://acme/auditor/x",
                                                                     "DNS:deployer.acme.test.evil"]),
            # Same subject as a mapped identity, but signed by a CA the server does not trust.
            "foreign": self.foreign.issue("foreign-scorer", name("scorer")),
        }
        for label, s in (("admin", "CN=ops-admin,O=Acme"), ("scorer", "CN=scorer,O=Acme")):
            cert = x509.load_pem_x509_certificate(self.certs[label][0].read_bytes())
            assert cert.subject.rfc4514_string() == s, cert.subject.rfc4514_string()


def configure(inst: Installation, pki: Pki, require: bool, mappings):
    shutil.copy(pki.ca.cert_path, inst.dir / "tls" / "clients-ca.crt")
    inst.set_config("tls", "client_ca", "tls/clients-ca.crt")
    inst.set_config("tls", "require_client_cert", require)
    append_config(inst, mtls_config(mappings))


def wait_live_with_cert(inst: Installation, cert, timeout=90):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if inst.proc.poll() is not None:
            raise AssertionError(f"aegis serve exited with {inst.proc.returncode}\n{inst.log_tail()}")
        try:
            r = call(inst, "GET", "/v2/health/live", cert=cert, timeout=5)
            if r.status_code == 200:
                return
            last = r
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"server not live within {timeout}s: {last!r}\n{inst.log_tail()}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("mtls-pki"))


@pytest.fixture(scope="module")
def mt(tmp_path_factory, pki):
    inst = Installation(tmp_path_factory.mktemp("mtls"))
    inst.init()
    configure(inst, pki, False, MAPPINGS)
    start_with_models(inst)
    yield inst
    stop_and_check(inst)


def handshake_refused(inst, path, cert, admin=None) -> str | None:
    """None if the request fails at the TLS layer (no HTTP answer), else what it got."""
    try:
        r = call(inst, "GET", path, cert=cert, admin=admin, timeout=10)
    except (OSError, http.client.HTTPException):
        return None
    return f"got an HTTP answer {r!r}"


def infer(inst, model, cert=None, bearer=None):
    return call(inst, "POST", f"/v2/models/{model}/infer", cert=cert, bearer=bearer, json_body=mlp_infer_body())


# --------------------------------------------------------------------------- optional client certificates


def test_without_a_certificate_bearer_still_works(mt):
    assert call(mt, "GET", "/v1/models", bearer=mt.token).status_code == 200
    assert infer(mt, "other-mlp", bearer=mt.token).status_code == 200
    for path in ("/v1/models", "/v2", "/v1/whoami"):
        problem = check_401(call(mt, "GET", path), f"no certificate, no bearer on {path}")
        assert problem is None, problem
    assert call(mt, "GET", "/v2/health/ready").status_code == 200


def test_mapped_subject_consumer(mt, pki):
    cert = pki.certs["scorer"]
    r = infer(mt, "fraud-mlp", cert=cert)
    assert r.status_code == 200, f"mapped consumer cert, infer in scope -> {r!r}"
    e = event_for(mt, r)
    assert (e.get("principal"), e.get("auth_method"), e.get("grant"), e.get("decision")) == \
        ("cert:CN=scorer,O=Acme", "mtls", "consumer:fraud-*", "allow"), e
    r = infer(mt, "other-mlp", cert=cert)
    assert r.status_code == 403 and json_error(r), f"out of scope -> {r!r}"
    e = event_for(mt, r)
    assert (e.get("principal"), e.get("decision")) == ("cert:CN=scorer,O=Acme", "deny"), e
    assert call(mt, "GET", "/v2/models/fraud-mlp/ready", cert=cert).status_code == 200
    for path in ("/v1/models", "/v1/audit", "/v1/tokens"):
        r = call(mt, "GET", path, cert=cert)
        assert r.status_code == 403, f"consumer cert on {path} -> {r!r}"
    w = call(mt, "GET", "/v1/whoami", cert=cert)
    assert w.status_code == 200, w
    assert (w.json().get("principal"), w.json().get("method"), w.json().get("grants")) == \
        ("cert:CN=scorer,O=Acme", "mtls", ["consumer:fraud-*"]), w.json()


def test_mapped_subject_admin_is_a_service_admin(mt, pki):
    cert = pki.certs["admin"]
    r = call(mt, "GET", "/v1/models", cert=cert)
    assert r.status_code == 200 and {"fraud-mlp", "other-mlp"} <= {m["name"] for m in r.json()["models"]}, r
    r = call(mt, "POST", "/v1/tokens", cert=cert, json_body={"name": "made-by-cert", "role": "consumer"})
    assert r.status_code == 201, f"an admin service (cert) creating a token (sensitive) -> {r!r}"
    e = event_for(mt, r)
    assert (e.get("principal"), e.get("auth_method"), e.get("grant")) == \
        ("cert:CN=ops-admin,O=Acme", "mtls", "admin:*"), e
    assert call(mt, "GET", "/v2", cert=cert).status_code == 200


def test_mapped_san_uri_auditor(mt, pki):
    cert = pki.certs["auditor"]
    for path in ("/v1/audit?limit=1", "/v1/trust", "/v1/models"):
        r = call(mt, "GET", path, cert=cert)
        assert r.status_code == 200, f"auditor (SAN URI) on {path} -> {r!r}"
    for r in (infer(mt, "fraud-mlp", cert=cert), call(mt, "GET", "/v1/tokens", cert=cert),
              call(mt, "DELETE", "/v1/models/fraud-mlp/versions/1", cert=cert)):
        assert r.status_code == 403, f"auditor -> {r!r}"
    w = call(mt, "GET", "/v1/whoami", cert=cert).json()
    assert w.get("method") == "mtls" and w.get("grants") == ["auditor:*"], w
    assert str(w.get("principal", "")).startswith("cert:"), w


def test_mapped_san_dns_deployer(mt, pki):
    cert = pki.certs["deployer"]
    data = MLP_ONNX.read_bytes()
    r = call(mt, "PUT", "/v1/models/fraud-by-cert/versions/1?format=onnx", cert=cert, body=data,
             headers=signed_push_headers(mt, data))
    assert r.status_code == 201, f"deployer (SAN DNS) pushing in scope -> {r!r}"
    r = call(mt, "PUT", "/v1/models/other-by-cert/versions/1?format=onnx", cert=cert, body=data,
             headers=signed_push_headers(mt, data))
    assert r.status_code == 403, f"deployer pushing out of scope -> {r!r}"
    names = {m["name"] for m in call(mt, "GET", "/v1/models", cert=cert).json()["models"]}
    assert names and all(n.startswith("fraud-") for n in names), names


def test_mapped_san_email_consumer(mt, pki):
    r = infer(mt, "other-mlp", cert=pki.certs["mailer"])
    assert r.status_code == 200, f"consumer '*' by SAN email -> {r!r}"


@pytest.mark.parametrize("label", ["stranger", "other-org", "injected", "san-lookalike"])
def test_verified_but_unmapped_cert_is_401(mt, pki, label):
    cert = pki.certs[label]
    for path, admin in (("/v1/whoami", True), ("/v2", False), ("/v2/models/fraud-mlp", False)):
        r = call(mt, "GET", path, cert=cert, admin=admin)
        problem = check_401(r, f"unmapped cert {label} on {path}")
        assert problem is None, problem
        assert json_error(r) == NOT_MAPPED, f"error {json_error(r)!r}, expected {NOT_MAPPED!r}"
    e = event_for(mt, r)
    assert e.get("decision") == "deny" and e.get("grant") in ("", None), e
    # A good bearer with an unmapped cert: the bearer alone decides.
    assert call(mt, "GET", "/v1/models", cert=cert, bearer=mt.token).status_code == 200


def test_bearer_is_judged_alone(mt, pki):
    bad = "aegis_" + "f" * 16 + "_" + "A" * 43
    problem = check_401(call(mt, "GET", "/v1/models", cert=pki.certs["admin"], bearer=bad),
                        "admin cert with a bad bearer")
    assert problem is None, problem
    problem = check_401(call(mt, "GET", "/v2", cert=pki.certs["scorer"], headers={"Authorization": "Bearer x.y.z"}),
                        "consumer cert with a garbage bearer")
    assert problem is None, problem
    consumer = create_token(mt, "mtls-consumer", "consumer", "fraud-*")["token"]
    r = call(mt, "GET", "/v1/models", cert=pki.certs["admin"], bearer=consumer)
    assert r.status_code == 403, f"admin cert + consumer token must be the consumer: {r!r}"
    r = call(mt, "GET", "/v1/models", cert=pki.certs["scorer"], bearer=mt.token)
    assert r.status_code == 200, f"consumer cert + admin token must be the admin: {r!r}"


@pytest.mark.parametrize("admin", [False, True], ids=["data", "control"])
def test_untrusted_cert_fails_the_handshake(mt, pki, admin):
    path = "/v1/whoami" if admin else "/v2/health/live"
    problem = handshake_refused(mt, path, pki.certs["foreign"], admin=admin)
    assert problem is None, f"a certificate from a foreign CA: {problem}"
    assert mt.alive() and call(mt, "GET", "/v2/health/live").status_code == 200


# --------------------------------------------------------------------------- required client certificates


@pytest.fixture(scope="module")
def strict(tmp_path_factory, pki):
    inst = Installation(tmp_path_factory.mktemp("mtls-strict"))
    inst.init()
    configure(inst, pki, True, [{"subject": "CN=ops-admin,O=Acme", "role": "admin"}])
    inst.start(wait=False)
    try:
        wait_live_with_cert(inst, pki.certs["admin"])
    except BaseException:
        inst.kill()
        raise
    yield inst
    stop_and_check(inst)


@pytest.mark.parametrize("admin,path", [(False, "/v2/health/live"), (False, "/v2"), (True, "/v1/models")],
                         ids=["data-health", "data", "control"])
def test_required_cert_missing_fails_the_handshake(strict, admin, path):
    problem = handshake_refused(strict, path, None, admin=admin)
    assert problem is None, f"no client certificate with require_client_cert = true: {problem}"


def test_required_cert_present_works(strict, pki):
    cert = pki.certs["admin"]
    assert call(strict, "GET", "/v2/health/live", cert=cert).status_code == 200
    r = call(strict, "GET", "/v1/models", cert=cert)
    assert r.status_code == 200 and "models" in r.json(), r
    # With the certificate, an unmapped identity is still 401 and a bearer still decides.
    problem = check_401(call(strict, "GET", "/v1/models", cert=pki.certs["scorer"]), "unmapped on strict server")
    assert problem is None, problem
    assert call(strict, "GET", "/v1/models", cert=pki.certs["scorer"], bearer=strict.token).status_code == 200
    problem = handshake_refused(strict, "/v2/health/live", pki.certs["foreign"])
    assert problem is None, f"foreign cert on the strict server: {problem}"


def test_cli_with_client_certificate(strict, pki):
    cert, key = pki.certs["admin"]
    p = cli(strict, "model", "list", "--json", "--cert", cert, "--key", key)
    assert p.returncode == 0, p.stderr
    assert "models" in json.loads(p.stdout)
    p = cli(strict, "model", "list", "--json", env={"AEGIS_CERT": str(cert), "AEGIS_KEY": str(key)})
    assert p.returncode == 0, f"AEGIS_CERT/AEGIS_KEY: {p.stderr}"
    p = cli(strict, "token", "list", "--json", "--cert", cert, "--key", key)
    assert p.returncode == 0, f"token list (sensitive) with an admin cert: {p.stderr}"
    p = cli(strict, "model", "list")  # no certificate: the handshake fails
    problem = one_line_error(p)
    assert problem is None, problem
    scorer_cert, scorer_key = pki.certs["scorer"]
    p = cli(strict, "model", "list", "--cert", scorer_cert, "--key", scorer_key)  # unmapped here: 401
    problem = one_line_error(p)
    assert problem is None, problem


@pytest.mark.parametrize("entry", [
    {"subject": "CN=a,O=Acme", "san": "DNS:a.acme.test", "role": "consumer"},
    {"role": "consumer"},
    {"subject": "CN=a,O=Acme", "role": "superuser"},
    {"san": "FTP:a.acme.test", "role": "consumer"},
], ids=["subject and san", "neither", "unknown role", "unknown SAN type"])
def test_bad_mapping_is_refused_at_start(tmp_path_factory, pki, entry):
    inst = Installation(tmp_path_factory.mktemp("mtls-bad"))
    inst.init()
    configure(inst, pki, False, [entry])
    expect_refused_at_start(inst, f"the [[auth.mtls]] entry {entry}")
