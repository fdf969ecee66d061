"""JWT bearer authentication ([auth.jwt], issue 5): RS256 / ES256 / EdDSA from a JWKS file
(and from a JWKS URL over HTTPS), the roles claim and role_map, the models claim as the
scope, and the classic attacks — alg none, HS256 keyed with the public key, algorithm/key
mismatch, unknown kid, foreign key under a known kid, time claims, iss/aud, spliced tokens,
garbage — every one a 401 with a JSON error, audited as a denial.

Tokens are made with python3-jwt, or by hand (hmac/hashlib) where python3-jwt refuses.
"""

import json
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from aegis_testlib import Installation, stop_and_check
from identity_lib import (start_with_models, IdpKeys, JwksServer, TestCA, b64u, b64u_json, call, check_401, claims, event_for,
                          forge, grant, hmac_jwt, json_error, mlp_infer_body, append_config,
                          jwt_config, MLP_ONNX, signed_push_headers)
from identity_lib import expect_refused_at_start, name as x509_name

ISS = "https://idp.test.example"
AUD = "aegis"
ROLE_MAP = {"ml-readers": "consumer", "ml-deployers": "deployer"}


class Idp:
    def __init__(self, inst, keys):
        self.inst = inst
        self.keys = keys

    def claims(self, sub, roles=None, models=None, **kw):
        return claims(sub, roles, models, iss=ISS, aud=AUD, **kw)

    def token(self, sub, roles=None, models=None, alg="RS256", **kw):
        return self.keys.sign(self.claims(sub, roles, models, **kw), alg)


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("jwt"))
    inst.init()
    keys = IdpKeys("idp")
    (inst.dir / "jwks.json").write_text(json.dumps(keys.jwks(), indent=2))
    # roles_claim and leeway_seconds are left at their defaults ("roles", 60).
    append_config(inst, jwt_config(issuer=ISS, audience=AUD, jwks_file="jwks.json", models_claim="aegis_models",
                                   role_map=ROLE_MAP))
    start_with_models(inst)
    yield Idp(inst, keys)
    stop_and_check(inst)


def get(idp, path, token, **kw):
    return call(idp.inst, "GET", path, bearer=token, **kw)


def infer(idp, model, token):
    return call(idp.inst, "POST", f"/v2/models/{model}/infer", bearer=token, json_body=mlp_infer_body())


def check_allowed_event(idp, r, sub, want_grant):
    e = event_for(idp.inst, r)
    got = {k: e.get(k) for k in ("principal", "auth_method", "decision", "grant")}
    want = {"principal": f"jwt:{sub}", "auth_method": "jwt", "decision": "allow", "grant": want_grant}
    assert got == want, f"audit event {e}"


def check_denied_event(idp, r, sub=None, status=403):
    e = event_for(idp.inst, r)
    assert e.get("decision") == "deny" and e.get("grant") in ("", None), f"audit event {e}"
    assert e.get("status") in (None, status), f"audit event {e}"
    if sub is not None:
        assert e.get("principal") == f"jwt:{sub}" and e.get("auth_method") == "jwt", f"audit event {e}"


# --------------------------------------------------------------------------- valid tokens


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_valid_token_each_algorithm(idp, alg):
    sub = f"svc-{alg.lower()}"
    tok = idp.token(sub, ["admin"], alg=alg)
    r = get(idp, "/v1/models", tok)
    assert r.status_code == 200, f"{alg} admin JWT on GET /v1/models -> {r!r}"
    assert {"fraud-mlp", "other-mlp"} <= {m["name"] for m in r.json()["models"]}
    check_allowed_event(idp, r, sub, grant("admin"))
    w = get(idp, "/v1/whoami", tok)
    assert w.status_code == 200, w
    j = w.json()
    assert (j.get("principal"), j.get("method"), j.get("grants")) == (f"jwt:{sub}", "jwt", ["admin:*"]), j
    assert "mfa_at" not in j or j["mfa_at"] in (None, ""), f"mfa_at is for sessions only: {j}"
    assert get(idp, "/v2", tok).status_code == 200


def test_consumer_scoped_by_models_claim(idp):
    tok = idp.token("scorer-1", "consumer", "fraud-*", alg="ES256")  # roles claim as a string
    r = infer(idp, "fraud-mlp", tok)
    assert r.status_code == 200, r
    check_allowed_event(idp, r, "scorer-1", "consumer:fraud-*")
    r = infer(idp, "other-mlp", tok)
    assert r.status_code == 403 and json_error(r), r
    check_denied_event(idp, r, "scorer-1")
    r = get(idp, "/v2/models/other-mlp", tok)
    assert r.status_code == 403, r
    r = get(idp, "/v1/models", tok)
    assert r.status_code == 403, f"a consumer JWT on the control plane -> {r!r}"
    w = get(idp, "/v1/whoami", tok)
    assert w.status_code == 200 and w.json().get("grants") == ["consumer:fraud-*"], w


def test_models_claim_array_of_globs(idp):
    tok = idp.token("scorer-2", ["consumer"], ["team-[ab]-*", "fraud-?lp", "fraud-m*"], alg="EdDSA")
    assert infer(idp, "fraud-mlp", tok).status_code == 200
    r = infer(idp, "other-mlp", tok)
    assert r.status_code == 403, r
    grants = get(idp, "/v1/whoami", tok).json().get("grants")
    assert "consumer:fraud-m*" in grants and all(g.startswith("consumer:") for g in grants), grants


def test_models_claim_absent_means_every_model(idp):
    tok = idp.token("scorer-3", ["consumer"])
    r = infer(idp, "other-mlp", tok)
    assert r.status_code == 200, r
    check_allowed_event(idp, r, "scorer-3", "consumer:*")


def test_role_map(idp):
    tok = idp.token("reader-1", ["unrelated-group", "ml-readers"])
    r = infer(idp, "other-mlp", tok)
    assert r.status_code == 200, f"role_map ml-readers -> consumer should allow infer: {r!r}"
    assert get(idp, "/v1/models", tok).status_code == 403
    dep = idp.token("deployer-1", ["ml-deployers"], "fraud-*", alg="ES256")
    r = get(idp, "/v1/models", dep)
    assert r.status_code == 200, r
    assert {m["name"] for m in r.json()["models"]} == {"fraud-mlp"}, r.json()
    data = MLP_ONNX.read_bytes()
    r = call(idp.inst, "PUT", "/v1/models/fraud-jwt-push/versions/1?format=onnx", bearer=dep, body=data,
             headers=signed_push_headers(idp.inst, data))
    assert r.status_code == 201, r
    check_allowed_event(idp, r, "deployer-1", "deployer:fraud-*")
    r = call(idp.inst, "PUT", "/v1/models/other-jwt-push/versions/1?format=onnx", bearer=dep, body=data,
             headers=signed_push_headers(idp.inst, data))
    assert r.status_code == 403, r
    check_denied_event(idp, r, "deployer-1")
    # A mapped name is not a role by itself, and role names are case-sensitive.
    for roles in (["ml-deployers-x"], ["Admin"], ["consumer "]):
        r = infer(idp, "fraud-mlp", idp.token("odd-1", roles))
        assert r.status_code == 403, f"roles {roles} -> {r!r}"


def test_roles_that_map_to_nothing_authenticate_but_are_denied(idp):
    tok = idp.token("sales-1", ["sales", "ml-writers"])
    w = get(idp, "/v1/whoami", tok)
    assert w.status_code == 200, f"a verified JWT without grants is still authenticated: {w!r}"
    assert w.json().get("principal") == "jwt:sales-1" and w.json().get("grants") == [], w.json()
    for r in (get(idp, "/v2", tok), get(idp, "/v2/models/fraud-mlp", tok), infer(idp, "fraud-mlp", tok),
              get(idp, "/v1/models", tok), get(idp, "/v1/audit", tok)):
        assert r.status_code == 403 and json_error(r), f"{r!r} (expected 403)"
    check_denied_event(idp, r, "sales-1")


def test_time_claims_within_leeway_are_accepted(idp):
    """leeway_seconds defaults to 60: 30 s past exp or 30 s before nbf is still fine."""
    now = int(time.time())
    tok = idp.keys.sign(idp.claims("late-1", ["admin"], exp_in=-30), "RS256")
    assert get(idp, "/v2", tok).status_code == 200, "exp 30 s ago is within the 60 s leeway"
    tok = idp.keys.sign(idp.claims("early-1", ["admin"], nbf=now + 30), "ES256")
    assert get(idp, "/v2", tok).status_code == 200, "nbf in 30 s is within the 60 s leeway"


def test_a_refusal_that_points_at_the_configuration_is_logged_with_its_request_id(idp):
    """A JWT for another issuer usually means [auth.jwt] and the identity provider disagree: the
    server log says so with the request id, once a minute however many arrive (clients can send
    them at will). A malformed token is an attacker's or a client's problem: not logged.
    Runs before the attack tests, which send such tokens too, so that this one's line is the first."""
    inst = idp.inst
    tok = idp.keys.sign(claims("carol", ["admin"], iss="https://other-idp.example", aud=AUD), "RS256")
    for i in range(5):
        r = call(inst, "GET", "/v1/models", bearer=tok, headers={"X-Request-Id": f"cfg-iss-{i}"})
        assert r.status_code == 401, r
    r = call(inst, "GET", "/v1/models", bearer="garbage.not.jwt", headers={"X-Request-Id": "cfg-garbage"})
    assert r.status_code == 401, r
    deadline = time.monotonic() + 5
    while "authentication refused (wrong issuer)" not in inst.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [l for l in inst.log_text().splitlines() if "authentication refused" in l]
    assert len(lines) == 1, lines
    assert "(wrong issuer)" in lines[0] and "[auth.jwt] issuer" in lines[0] and "cfg-iss-0" in lines[0], lines
    assert "cfg-garbage" not in inst.log_text()


# --------------------------------------------------------------------------- attacks and garbage


def _pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _parts(tok):
    return tok.split(".")


def attack_tokens(idp):
    k = idp.keys
    admin = idp.claims("mallory", ["admin"])
    now = int(time.time())
    rsa_kid, ec_kid, ed_kid = k.kid("RS256"), k.kid("ES256"), k.kid("EdDSA")
    good = k.sign(admin, "RS256")
    consumer = k.sign(idp.claims("mallory", ["consumer"], "fraud-*"), "RS256")
    g, c = _parts(good), _parts(consumer)
    foreign_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign_ec = ec.generate_private_key(ec.SECP256R1())
    foreign_ed = ed25519.Ed25519PrivateKey.generate()
    sig = bytearray(jwt.utils.base64url_decode(g[2]))
    sig[len(sig) // 2] ^= 0x01
    return {
        "alg none": forge({"alg": "none", "typ": "JWT", "kid": rsa_kid}, admin),
        "alg none without kid": forge({"alg": "none", "typ": "JWT"}, admin),
        "alg None (case)": forge({"alg": "None", "kid": rsa_kid}, admin),
        "alg none with a signature kept": f"{b64u_json({'alg': 'none', 'kid': rsa_kid})}.{g[1]}.{g[2]}",
        "HS256 keyed with the RSA public key PEM": hmac_jwt({"alg": "HS256", "typ": "JWT", "kid": rsa_kid}, admin,
                                                            _pem(k.key("RS256"))),
        "HS256 keyed with the EC public key PEM": hmac_jwt({"alg": "HS256", "typ": "JWT", "kid": ec_kid}, admin,
                                                           _pem(k.key("ES256"))),
        "HS256 keyed with the Ed25519 public key PEM": hmac_jwt({"alg": "HS256", "kid": ed_kid}, admin,
                                                                _pem(k.key("EdDSA"))),
        "RS256 with the EC key's kid": k.sign(admin, "RS256", kid=ec_kid),
        "ES256 with the RSA key's kid": k.sign(admin, "ES256", kid=rsa_kid),
        "EdDSA with the EC key's kid": k.sign(admin, "EdDSA", kid=ec_kid),
        "RS512 by the RS256 key": k.sign(admin, "RS512", kid=rsa_kid, key=k.key("RS256")),
        "PS256 by the RS256 key": k.sign(admin, "PS256", kid=rsa_kid, key=k.key("RS256")),
        "unknown kid": k.sign(admin, "RS256", kid="no-such-kid"),
        "foreign RSA key, known kid": k.sign(admin, "RS256", key=foreign_rsa),
        "foreign EC key, known kid": k.sign(admin, "ES256", key=foreign_ec),
        "foreign Ed25519 key, known kid": k.sign(admin, "EdDSA", key=foreign_ed),
        "expired an hour ago": k.sign(idp.claims("mallory", ["admin"], exp_in=-3600), "RS256"),
        "expired beyond the leeway": k.sign(idp.claims("mallory", ["admin"], exp_in=-120), "ES256"),
        "no exp": k.sign(idp.claims("mallory", ["admin"], exp_in=None), "RS256"),
        "nbf in an hour": k.sign(idp.claims("mallory", ["admin"], nbf=now + 3600), "RS256"),
        "nbf beyond the leeway": k.sign(idp.claims("mallory", ["admin"], nbf=now + 120), "EdDSA"),
        "iat in an hour": k.sign(idp.claims("mallory", ["admin"], iat=now + 3600), "RS256"),
        "wrong iss": k.sign(claims("mallory", ["admin"], iss="https://evil.example", aud=AUD), "RS256"),
        "iss with a trailing slash": k.sign(claims("mallory", ["admin"], iss=ISS + "/", aud=AUD), "RS256"),
        "wrong aud": k.sign(claims("mallory", ["admin"], iss=ISS, aud="not-aegis"), "ES256"),
        "aud list without aegis": k.sign(claims("mallory", ["admin"], iss=ISS, aud=["a", "b"]), "RS256"),
        "no sub": k.sign({k2: v for k2, v in admin.items() if k2 != "sub"}, "RS256"),
        "swapped payload (consumer header+sig, admin payload)": f"{c[0]}.{g[1]}.{c[2]}",
        "signature of another token": f"{g[0]}.{g[1]}.{c[2]}",
        "flipped signature bit": f"{g[0]}.{g[1]}.{b64u(bytes(sig))}",
        "truncated signature": f"{g[0]}.{g[1]}.{g[2][:-4]}",
        "empty signature": f"{g[0]}.{g[1]}.",
        "random string": b64u(os.urandom(48)),
        "two parts": f"{g[0]}.{g[1]}",
        "four parts": f"{good}.{g[2]}",
        "bad base64": "!!!$$.@@@@.####",
        "header not JSON": f"{b64u(b'not json at all')}.{g[1]}.{g[2]}",
        "payload not JSON": f"{g[0]}.{b64u(b'[1,2')}.{g[2]}",
        "empty parts": "..",
    }


ATTACKS = [
    "alg none", "alg none without kid", "alg None (case)", "alg none with a signature kept",
    "HS256 keyed with the RSA public key PEM", "HS256 keyed with the EC public key PEM",
    "HS256 keyed with the Ed25519 public key PEM", "RS256 with the EC key's kid", "ES256 with the RSA key's kid",
    "EdDSA with the EC key's kid", "RS512 by the RS256 key", "PS256 by the RS256 key", "unknown kid",
    "foreign RSA key, known kid", "foreign EC key, known kid", "foreign Ed25519 key, known kid",
    "expired an hour ago", "expired beyond the leeway", "no exp", "nbf in an hour", "nbf beyond the leeway",
    "iat in an hour", "wrong iss", "iss with a trailing slash", "wrong aud", "aud list without aegis", "no sub",
    "swapped payload (consumer header+sig, admin payload)", "signature of another token", "flipped signature bit",
    "truncated signature", "empty signature", "random string", "two parts", "four parts", "bad base64",
    "header not JSON", "payload not JSON", "empty parts",
]


@pytest.fixture(scope="module")
def attacks(idp):
    tokens = attack_tokens(idp)
    assert sorted(tokens) == sorted(ATTACKS), "ATTACKS list out of date"
    return tokens


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_is_401(idp, attacks, name):
    tok = attacks[name]
    for path, admin in (("/v1/models", True), ("/v2/models/fraud-mlp", False)):
        r = call(idp.inst, "GET", path, bearer=tok, admin=admin)
        problem = check_401(r, f"{name} on {path}")
        assert problem is None, problem
        e = event_for(idp.inst, r)
        assert e.get("decision") == "deny" and e.get("grant") in ("", None), f"audit event {e}"
        assert e.get("status") in (None, 401), f"audit event {e}"


def test_good_control_token_still_works(idp):
    """The positive control for the attacks: the same claims, properly signed, are accepted."""
    r = get(idp, "/v1/models", idp.keys.sign(idp.claims("mallory", ["admin"]), "RS256"))
    assert r.status_code == 200, r


# --------------------------------------------------------------------------- JWKS from a URL


def test_jwks_url_over_https(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("jwt-url")
    ca = TestCA(root / "pki", "JWKS test CA")
    cert, key = ca.issue("jwks-server", x509_name("127.0.0.1", None),
                         sans=["IP:127.0.0.1", "DNS:localhost"], server=True)
    keys = IdpKeys("remote")
    srv = JwksServer(keys.jwks(), cert, key)
    inst = Installation(root / "inst")
    try:
        inst.init()
        append_config(inst, jwt_config(issuer=ISS, audience=AUD, jwks_url=srv.url, jwks_ca=str(ca.cert_path)))
        inst.start()
        deadline = time.monotonic() + 10
        while srv.hits < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.hits >= 1, "the server did not fetch the JWKS at start"
        tok = keys.sign(claims("remote-1", ["admin"], iss=ISS, aud=AUD), "ES256")
        r = call(inst, "GET", "/v1/models", bearer=tok)
        while r.status_code == 401 and time.monotonic() < deadline:  # the fetch may finish just after
            time.sleep(0.1)
            r = call(inst, "GET", "/v1/models", bearer=tok)
        assert r.status_code == 200, f"JWT verified with a key from jwks_url -> {r!r}"
        tok = keys.sign(claims("remote-2", ["admin"], iss=ISS, aud=AUD), "EdDSA")
        assert call(inst, "GET", "/v1/whoami", bearer=tok).json().get("principal") == "jwt:remote-2"
        # A key that is only in the other (file) JWKS is unknown here.
        other = idp.keys.sign(idp.claims("remote-3", ["admin"]), "RS256")
        assert check_401(call(inst, "GET", "/v1/models", bearer=other), "key not in the fetched JWKS") is None
        stop_and_check(inst)
    finally:
        inst.kill()
        srv.close()


def test_both_jwks_file_and_url_is_refused_at_start(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("jwt-both"))
    inst.init()
    (inst.dir / "jwks.json").write_text(json.dumps(IdpKeys("x").jwks()))
    append_config(inst, jwt_config(issuer=ISS, audience=AUD, jwks_file="jwks.json",
                                   jwks_url="https://127.0.0.1:1/jwks.json"))
    expect_refused_at_start(inst, "both jwks_file and jwks_url")


def test_weak_rsa_key_is_never_accepted(tmp_path_factory):
    """RS256 needs RSA >= 2048: a 1024-bit key in the JWKS is refused, either at start
    (fail closed) or by never verifying a token with it."""
    inst = Installation(tmp_path_factory.mktemp("jwt-weak"))
    inst.init()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    strong = ec.generate_private_key(ec.SECP256R1())
    from identity_lib import jwk
    (inst.dir / "jwks.json").write_text(json.dumps({"keys": [jwk(weak, "weak-rsa"), jwk(strong, "ok-ec")]}))
    append_config(inst, jwt_config(issuer=ISS, audience=AUD, jwks_file="jwks.json"))
    proc = inst.start(wait=False)
    try:
        try:
            inst.wait_live(30)
        except AssertionError:
            assert proc.poll() not in (None, 0), "the server neither started nor exited with an error"
            return  # refused at start: fine
        c = claims("weak-1", ["admin"], iss=ISS, aud=AUD)
        tok = jwt.encode(c, weak, algorithm="RS256", headers={"kid": "weak-rsa"})
        problem = check_401(call(inst, "GET", "/v1/models", bearer=tok), "JWT signed by a 1024-bit RSA key")
        assert problem is None, problem
        tok = jwt.encode(c, strong, algorithm="ES256", headers={"kid": "ok-ec"})
        assert call(inst, "GET", "/v1/models", bearer=tok).status_code == 200, "the good key beside it was lost"
        stop_and_check(inst)
    finally:
        inst.kill()
