"""Helpers for the identity & access tests (issue 5): API tokens, users + TOTP, login
sessions, JWTs and JWKS, client certificates, config snippets, and an HTTPS client that
reports its own source address so each request can be matched to its audit event.

Everything is independent of Aegis's C++ code: TOTP is RFC 6238 with hmac/hashlib here,
JWTs are made with python3-jwt (or by hand for the attacks it refuses to make),
certificates with python3-cryptography.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import http.client
import http.server
import ipaddress
import json
import os
import pathlib
import re
import secrets
import ssl
import struct
import subprocess
import threading
import time
import tomllib
import urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from requests.structures import CaseInsensitiveDict

from aegis_testlib import AEGIS_BIN, EXAMPLES, Installation, describe

ROLES = ("admin", "deployer", "approver", "auditor", "consumer")
UNSCOPED_ROLES = ("admin", "auditor")  # never scoped by the spec
TOKEN_RE = re.compile(r"^aegis_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
SESSION_RE = re.compile(r"^aegis_session_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
LOGIN_FAILED = {"error": "invalid user name, password or code"}
THROTTLED = {"error": "too many failed logins from this address; try again later"}


# --------------------------------------------------------------------------- HTTPS client


class Resp:
    """A response, with the client's own address (`local`, "ip:port") for audit matching."""

    def __init__(self, status, headers, content, local, method, path, t0):
        self.status_code = status
        self.headers = headers
        self.content = content
        self.local = local
        self.method = method
        self.path = path
        self.t0 = t0

    @property
    def text(self):
        return self.content.decode(errors="replace")

    def json(self):
        return json.loads(self.content)

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status_code} {self.content[:200]!r}>"


def client_context(ca, cert=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def call(inst: Installation, method: str, path: str, *, bearer: str | None = None, json_body=None,
         body: bytes | None = None, headers: dict | None = None, admin: bool | None = None, cert=None,
         source: str | None = None, timeout: float = 60) -> Resp:
    """One request on its own TLS connection. `admin` defaults to True for /v1/ paths.
    `bearer` sets `Authorization: Bearer ...`; `headers` may set any other Authorization."""
    if admin is None:
        admin = path.startswith("/v1/")
    port = inst.admin_port if admin else inst.data_port
    h = {}
    if bearer is not None:
        h["Authorization"] = f"Bearer {bearer}"
    if json_body is not None:
        body = json.dumps(json_body).encode()
        h["Content-Type"] = "application/json"
    if headers:
        h.update(headers)
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=client_context(inst.ca, cert),
                                       source_address=(source, 0) if source else None)
    t0 = time.time()
    try:
        conn.connect()
        host, lport = conn.sock.getsockname()[:2]
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, CaseInsensitiveDict(r.getheaders()), data, f"{host}:{lport}", method, path, t0)
    finally:
        conn.close()


def is_auth_refusal(status: int) -> bool:
    return status in (401, 403)


def json_error(r: Resp) -> str | None:
    """The error string of an {"error": "..."} body, else None."""
    try:
        body = r.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]:
        return body["error"]
    return None


def check_401(r: Resp, context: str = "") -> str | None:
    """None if `r` is a proper 401 (JSON error + WWW-Authenticate: Bearer realm="aegis"), else the problem."""
    if r.status_code != 401:
        return f"{context}: expected 401, got {r.status_code} {r.text[:200]!r}"
    if json_error(r) is None:
        return f"{context}: 401 body is not {{\"error\": ...}}: {r.text[:200]!r}"
    www = r.headers.get("WWW-Authenticate") or ""
    if not re.match(r'^\s*Bearer\s+realm="aegis"', www, re.I):
        return f"{context}: WWW-Authenticate is {www!r}, expected Bearer realm=\"aegis\""
    return None


# --------------------------------------------------------------------------- audit


def _event_time(e) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(e.get("time")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def events_for(inst: Installation, responses: list[Resp], timeout: float = 15) -> dict[str, dict]:
    """{r.local: its audit event} for every response (polls until all are on disk).
    An event is matched by the client's ip:port and a time no earlier than the request."""
    want = {r.local: r for r in responses}
    found: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while True:
        for e in inst.audit_events():
            remote = str(e.get("remote", ""))
            r = want.get(remote)
            if r is None:
                continue
            t = _event_time(e)
            if t is not None and t < r.t0 - 2:
                continue  # an older connection that had the same port
            found[remote] = e
        if len(found) == len(want) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def event_for(inst: Installation, r: Resp, timeout: float = 15) -> dict:
    ev = events_for(inst, [r], timeout).get(r.local)
    assert ev is not None, f"no audit event for {r!r} from {r.local}"
    return ev


def new_events(inst: Installation, before: int, predicate, timeout: float = 10, minimum: int = 1) -> list[dict]:
    """Events after index `before` satisfying `predicate` (waits for at least `minimum`)."""
    deadline = time.monotonic() + timeout
    while True:
        evs = [e for e in inst.audit_events()[before:] if predicate(e)]
        if len(evs) >= minimum or time.monotonic() > deadline:
            return evs
        time.sleep(0.1)


def audit_blob(inst: Installation) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((inst.dir / "audit").rglob("*")) if p.is_file())


# --------------------------------------------------------------------------- tokens


def create_token(inst: Installation, name: str, role: str, models: str | None = None, ttl: int | None = None,
                 bearer: str | None = None) -> dict:
    body = {"name": name, "role": role}
    if models is not None:
        body["models"] = models
    if ttl is not None:
        body["ttl_seconds"] = ttl
    r = call(inst, "POST", "/v1/tokens", bearer=bearer or inst.token, json_body=body)
    assert r.status_code == 201, f"POST /v1/tokens {body} -> {r.status_code} {r.text[:300]}"
    out = r.json()
    assert TOKEN_RE.match(out.get("token", "")), f"token has not the aegis_<16hex>_<43> form: {out}"
    return out


def token_id(token: str) -> str:
    m = TOKEN_RE.match(token)
    assert m, f"not an API token: {token!r}"
    return m.group(1)


def grant(role: str, models: str = "*") -> str:
    return f"{role}:{models}"


# --------------------------------------------------------------------------- TOTP (RFC 6238)


def b32decode(secret: str) -> bytes:
    s = secret.strip().replace(" ", "").upper()
    return base64.b32decode(s + "=" * (-len(s) % 8))


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def totp(secret_b32: str, step: int) -> str:
    return hotp(b32decode(secret_b32), step)


def current_step(t: float | None = None) -> int:
    return int((time.time() if t is None else t) // 30)


def parse_totp_uri(uri: str, name: str) -> str:
    """Checks the otpauth URI against the spec and returns the base32 secret."""
    u = urllib.parse.urlsplit(uri)
    assert u.scheme == "otpauth" and u.netloc == "totp", f"not an otpauth://totp URI: {uri!r}"
    assert urllib.parse.unquote(u.path) == f"/Aegis:{name}", f"label is not Aegis:{name}: {uri!r}"
    q = dict(urllib.parse.parse_qsl(u.query, strict_parsing=True))
    assert q.get("issuer") == "Aegis" and q.get("algorithm") == "SHA1", uri
    assert q.get("digits") == "6" and q.get("period") == "30", uri
    secret = q.get("secret", "")
    assert re.fullmatch(r"[A-Z2-7]+=*", secret), f"secret is not upper-case base32: {uri!r}"
    assert len(b32decode(secret)) >= 16, f"TOTP secret shorter than 128 bits: {uri!r}"
    return secret


# --------------------------------------------------------------------------- users and sessions


def strong_password() -> str:
    return "Pw-" + secrets.token_urlsafe(18)


@dataclasses.dataclass
class User:
    name: str
    role: str
    models: str
    password: str
    secret: str
    last_step: int = -1

    def next_code(self) -> tuple[str, int]:
        """A code for a step the server has not accepted for this user yet (the replay guard
        takes only steps newer than the last one); may use the next step (±1 is accepted)
        and waits only if even that was used."""
        step = max(current_step(), self.last_step + 1)
        while step > current_step() + 1:
            time.sleep(0.2)
        return totp(self.secret, step), step


def create_user(inst: Installation, name: str, role: str, models: str | None = None, password: str | None = None,
                bearer: str | None = None) -> User:
    password = password or strong_password()
    body = {"name": name, "role": role, "password": password}
    if models is not None:
        body["models"] = models
    r = call(inst, "POST", "/v1/users", bearer=bearer or inst.token, json_body=body)
    assert r.status_code == 201, f"POST /v1/users {name} {role} -> {r.status_code} {r.text[:300]}"
    out = r.json()
    assert out.get("name") == name and out.get("role") == role, out
    return User(name, role, models or "*", password, parse_totp_uri(out["totp_uri"], name))


def login(inst: Installation, user: User, *, password: str | None = None, code: str | None = None,
          source: str | None = None) -> Resp:
    step = None
    if code is None:
        code, step = user.next_code()
    body = {"user": user.name, "password": user.password if password is None else password, "totp": code}
    r = call(inst, "POST", "/v1/login", json_body=body, source=source)
    if r.status_code == 200 and step is not None:
        user.last_step = step
    return r


def login_session(inst: Installation, user: User, source: str | None = None) -> str:
    r = login(inst, user, source=source)
    assert r.status_code == 200, f"login of {user.name} -> {r.status_code} {r.text[:300]}"
    session = r.json().get("session", "")
    assert SESSION_RE.match(session), f"session has not the aegis_session_<16hex>_<43> form: {r.text[:300]}"
    return session


# --------------------------------------------------------------------------- CLI


def run_cli(*args, input: str | None = None, env: dict | None = None, timeout: float = 120):
    """The aegis CLI with no AEGIS_* / XDG settings from the developer's environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AEGIS_") and k != "XDG_CONFIG_HOME"}
    base.update(env or {})
    return subprocess.run([AEGIS_BIN, *map(str, args)], env=base, capture_output=True, text=True,
                          timeout=timeout, input=input if input is not None else "")


def cli(inst: Installation, *args, token: str | None = None, input: str | None = None, env: dict | None = None,
        session_file=None, server: bool = True, timeout: float = 120):
    """A client command against `inst`'s control plane. Without `session_file` a path that
    does not exist is used, so no saved session of anyone can leak in; session_file=False
    leaves AEGIS_SESSION_FILE unset (then pass XDG_CONFIG_HOME / HOME in `env`)."""
    e = {}
    if session_file is not False:
        e["AEGIS_SESSION_FILE"] = str(session_file or (inst.root / "no-such-session.json"))
    e.update(env or {})
    flags = []
    if server:
        flags += ["--server", f"https://127.0.0.1:{inst.admin_port}", "--cacert", inst.ca]
    if token is not None:
        flags += ["--token", token]
    return run_cli(*args, *flags, input=input, env=e, timeout=timeout)


def one_line_error(proc) -> str | None:
    """None if the CLI failed with exit 1 and exactly one "aegis: " line on stderr."""
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    if proc.returncode != 1:
        return f"exit {proc.returncode} (expected 1)\n{describe(proc)}"
    if len(lines) != 1 or not lines[0].startswith("aegis: "):
        return f"stderr is not one 'aegis: ' line\n{describe(proc)}"
    return None


# --------------------------------------------------------------------------- JWT / JWKS


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_json(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


def jwk(private_or_public, kid: str) -> dict:
    pub = private_or_public.public_key() if hasattr(private_or_public, "public_key") else private_or_public
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64u(_int_bytes(nums.n)),
                "e": b64u(_int_bytes(nums.e))}
    if isinstance(pub, ec.EllipticCurvePublicKey):
        nums = pub.public_numbers()
        return {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                "x": b64u(nums.x.to_bytes(32, "big")), "y": b64u(nums.y.to_bytes(32, "big"))}
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "kid": kid, "use": "sig", "alg": "EdDSA", "crv": "Ed25519", "x": b64u(raw)}
    raise TypeError(type(pub))


class IdpKeys:
    """The identity provider's three signing keys, one per algorithm Aegis accepts."""

    def __init__(self, prefix: str = "test"):
        self.keys = {
            "RS256": (f"{prefix}-rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ES256": (f"{prefix}-ec", ec.generate_private_key(ec.SECP256R1())),
            "EdDSA": (f"{prefix}-ed", ed25519.Ed25519PrivateKey.generate()),
        }

    def kid(self, alg: str) -> str:
        return self.keys[alg][0]

    def key(self, alg: str):
        return self.keys[alg][1]

    def jwks(self) -> dict:
        return {"keys": [jwk(k, kid) for kid, k in self.keys.values()]}

    def sign(self, claims: dict, alg: str = "RS256", kid: str | None = None, key=None, headers: dict | None = None):
        h = {"kid": self.kid(alg) if kid is None else kid}
        h.update(headers or {})
        return jwt.encode(claims, key if key is not None else self.key(alg), algorithm=alg, headers=h)


def forge(header: dict, payload: dict, signature: bytes = b"") -> str:
    return f"{b64u_json(header)}.{b64u_json(payload)}.{b64u(signature)}"


def hmac_jwt(header: dict, payload: dict, secret: bytes) -> str:
    signing_input = f"{b64u_json(header)}.{b64u_json(payload)}".encode()
    return signing_input.decode() + "." + b64u(hmac.new(secret, signing_input, hashlib.sha256).digest())


def claims(sub: str, roles=None, models=None, *, iss: str, aud: str, exp_in: float | None = 600,
           models_claim: str = "aegis_models", roles_claim: str = "roles", **extra) -> dict:
    now = int(time.time())
    c = {"iss": iss, "aud": aud, "sub": sub, "iat": now}
    if exp_in is not None:
        c["exp"] = int(now + exp_in)
    if roles is not None:
        c[roles_claim] = roles
    if models is not None:
        c[models_claim] = models
    c.update(extra)
    return c


# --------------------------------------------------------------------------- X.509


def name(cn: str, o: str | None = "Acme") -> x509.Name:
    """A subject whose RFC 2253/4514 string is "CN=<cn>,O=<o>" (most specific RDN first)."""
    attrs = []
    if o is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def general_name(entry: str) -> x509.GeneralName:
    kind, _, value = entry.partition(":")
    if kind == "URI":
        return x509.UniformResourceIdentifier(value)
    if kind == "DNS":
        return x509.DNSName(value)
    if kind == "email":
        return x509.RFC822Name(value)
    if kind == "IP":
        return x509.IPAddress(ipaddress.ip_address(value))
    raise ValueError(entry)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TestCA:
    """A small CA (ECDSA P-256) issuing client and server certificates into `directory`."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: pathlib.Path, cn: str):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Aegis tests"),
                               x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime.now(datetime.timezone.utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(ski, critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = self.dir / f"{cn.replace(' ', '_')}.ca.crt"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, subject: x509.Name, sans=(), server: bool = False, days: int = 7):
        """(cert path, key path) of a new leaf certificate (EKU clientAuth, or serverAuth)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName([general_name(s) for s in sans]), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        cert_path, key_path = self.dir / f"{stem}.crt", self.dir / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        os.chmod(key_path, 0o600)
        return cert_path, key_path


# --------------------------------------------------------------------------- aegis.toml


def toml_string(s: str) -> str:
    return json.dumps(s)  # a TOML basic string for the ASCII text used here


def append_config(inst: Installation, text: str):
    """Appends raw TOML (tables such as [auth.jwt], [[auth.mtls]]) and checks the file still parses."""
    with open(inst.config_path, "a") as f:
        f.write("\n" + text.strip() + "\n")
    tomllib.loads(inst.config_path.read_text())


def jwt_config(*, issuer: str, audience: str, jwks_file: str | None = None, jwks_url: str | None = None,
               jwks_ca: str | None = None, roles_claim: str | None = None, models_claim: str | None = None,
               leeway_seconds: int | None = None, role_map: dict | None = None) -> str:
    lines = ["[auth.jwt]", f"issuer = {toml_string(issuer)}", f"audience = {toml_string(audience)}"]
    for key, value in (("jwks_file", jwks_file), ("jwks_url", jwks_url), ("jwks_ca", jwks_ca),
                       ("roles_claim", roles_claim), ("models_claim", models_claim)):
        if value is not None:
            lines.append(f"{key} = {toml_string(value)}")
    if leeway_seconds is not None:
        lines.append(f"leeway_seconds = {int(leeway_seconds)}")
    if role_map:
        lines.append("[auth.jwt.role_map]")
        lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in role_map.items()]
    return "\n".join(lines) + "\n"


def mtls_config(entries: list[dict]) -> str:
    out = []
    for e in entries:
        out.append("[[auth.mtls]]")
        out += [f"{k} = {toml_string(v)}" for k, v in e.items()]
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- a JWKS over HTTPS


class JwksServer:
    """Serves a JWKS at https://127.0.0.1:<port>/jwks.json (certificate from a TestCA)."""

    def __init__(self, jwks: dict, cert_path, key_path):
        self.body = json.dumps(jwks).encode()
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                outer.hits += 1
                if self.path.split("?")[0] != "/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert_path), str(key_path))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- models


MLP_ONNX = EXAMPLES / "mlp.onnx"


def mlp_infer_body() -> dict:
    from aegis_testlib import infer_body, reference_case
    return infer_body(reference_case("mlp_onnx")[0])


def push_models(inst: Installation, names=("fraud-mlp", "other-mlp")):
    for n in names:
        inst.push_ok(n, "1", MLP_ONNX, "onnx")


def start_with_models(inst: Installation):
    """Starts the (initialised, configured) server with fraud-mlp and other-mlp
    pushed and ready; kills it if that fails, so no server outlives a fixture."""
    inst.start()
    try:
        push_models(inst)
        inst.wait_ready(60)
    except BaseException:
        inst.kill()
        raise


def signed_push_headers(inst: Installation, data: bytes) -> dict:
    """Headers of a push signed by the installation's (trusted) test publisher."""
    import oms
    inst.trust_publisher()
    return {"Content-Type": "application/octet-stream",
            "Aegis-Signature-Bundle": base64.b64encode(oms.sign_bytes(data, inst.publisher)).decode()}


def wait_model_ready(inst: Installation, model: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = call(inst, "GET", f"/v2/models/{model}/ready", bearer=inst.token)
        last = r
        if r.status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"{model} not ready within {timeout}s: {last!r}")


def rfc3339_to_epoch(s: str) -> float:
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def expect_refused_at_start(inst: Installation, what: str, timeout: float = 60):
    """Starts `aegis serve` and expects it to exit non-zero with a message on stderr; fails
    as soon as the server answers its health probe instead (it accepted the config)."""
    proc = inst.start(wait=False)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"aegis serve neither exited nor answered within {timeout}s ({what})")
            try:
                r = call(inst, "GET", "/v2/health/live", timeout=2)
                if r.status_code == 200:
                    raise AssertionError(f"aegis serve started with {what} (expected a refusal at start)")
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
    finally:
        inst.kill()
    assert proc.returncode != 0, f"aegis serve exited 0 with {what}\n{inst.log_tail()}"
    assert inst.last_stderr.read_text().strip(), f"no message on stderr for {what}"


def labelled_metric(inst: Installation, name: str, labels: dict) -> float:
    """The value of the first /metrics series `name` carrying all of `labels` (admin scrape)."""
    text = call(inst, "GET", "/metrics", bearer=inst.token, admin=True).text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in /metrics")
