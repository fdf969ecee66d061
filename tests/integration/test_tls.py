"""TLS on both planes: versions, AEAD-only on TLS 1.2, no plaintext, certificate, security headers.

Where a test expects the server to refuse a handshake, a positive control first runs the
same openssl client against `openssl s_server` with the installation's own certificate: it
proves the client here can do that handshake, so the refusal comes from Aegis.
"""

import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests

from aegis_testlib import first_cert_der, free_port


def planes(server):
    return {"data": server.data_port, "admin": server.admin_port}


def s_client(port, *args, ca=None):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args]
    if ca:
        cmd += ["-CAfile", ca, "-verify_return_error"]
    p = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=20)
    out = p.stdout + p.stderr
    ok = p.returncode == 0 and re.search(r"Cipher is (?!\(NONE\))\S+", out) is not None
    return ok, out


class Control:
    """openssl s_server with the installation's cert/key, accepting everything at SECLEVEL 0."""

    def __init__(self, server):
        self.port = free_port()
        tls = server.dir / "tls"
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert", str(tls / "server.crt"),
             "-key", str(tls / "server.key"), "-cipher", "ALL:@SECLEVEL=0", "-www"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("openssl s_server control did not start")

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


@pytest.fixture(scope="module")
def control(server):
    c = Control(server)
    yield c
    c.close()


REFUSED = [
    ("tls1", ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
    ("tls1_1", ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
    ("tls1_2 AES128-SHA", ["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"]),
    ("tls1_2 ECDHE-ECDSA-AES128-SHA", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]),
    ("tls1_2 ECDHE-ECDSA-AES256-SHA", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"]),
    ("tls1_2 ECDHE-ECDSA-AES128-SHA256", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]),
    ("tls1_2 ECDHE-ECDSA-AES256-SHA384", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384"]),
]


@pytest.mark.parametrize("plane", ["data", "admin"])
@pytest.mark.parametrize("label,args", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(server, control, plane, label, args):
    # AES128-SHA (RSA key exchange) cannot work with an ECDSA certificate anyway: no control.
    if "AES128-SHA:" not in " ".join(args):
        ok, out = s_client(control.port, *args)
        assert ok, f"control: this openssl client cannot do `{label}` even against s_server; output:\n{out[-1500:]}"
    ok, out = s_client(planes(server)[plane], *args)
    assert not ok, f"{plane} plane accepted a `{label}` handshake (must refuse):\n{out[-1500:]}"


ACCEPTED = [
    ("tls1_2 ECDHE-ECDSA-AES128-GCM-SHA256", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], "TLSv1.2"),
    ("tls1_2 default", ["-tls1_2"], "TLSv1.2"),
    ("tls1_3", ["-tls1_3"], "TLSv1.3"),
]


@pytest.mark.parametrize("plane", ["data", "admin"])
@pytest.mark.parametrize("label,args,version", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(server, plane, label, args, version):
    ok, out = s_client(planes(server)[plane], *args, ca=server.ca)
    assert ok, f"{plane} plane refused `{label}` (must accept, verified against ca.crt):\n{out[-1500:]}"
    assert re.search(rf"Protocol\s*:\s*{re.escape(version)}", out) or f"New, {version}" in out, out[-1500:]


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("plane", ["data", "admin"])
def test_python_client_versions(server, plane, version):
    ctx = ssl.create_default_context(cafile=server.ca)
    v = getattr(ssl.TLSVersion, version)
    ctx.minimum_version = ctx.maximum_version = v
    with socket.create_connection(("127.0.0.1", planes(server)[plane]), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() == version.replace("_", "."), s.version()
            if version == "TLSv1_2":
                name, _, _ = s.cipher()
                assert "GCM" in name or "CHACHA20" in name, f"non-AEAD cipher negotiated: {s.cipher()}"


@pytest.mark.parametrize("plane", ["data", "admin"])
def test_plaintext_http_gets_no_http_response(server, plane):
    with socket.create_connection(("127.0.0.1", planes(server)[plane]), timeout=5) as s:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 5
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    assert b"HTTP/" not in data[:64], f"{plane} plane answered plaintext HTTP: {data[:200]!r}"


@pytest.mark.parametrize("plane", ["data", "admin"])
def test_presented_certificate_is_the_installations(server, plane):
    ctx = ssl.create_default_context(cafile=server.ca)
    with socket.create_connection(("127.0.0.1", planes(server)[plane]), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            der = s.getpeercert(binary_form=True)
    assert der == first_cert_der(server.dir / "tls" / "server.crt"), "the served leaf is not tls/server.crt"


def test_hostname_localhost_verifies(server):
    r = requests.get(f"https://localhost:{server.data_port}/v2/health/live", verify=server.ca, timeout=10)
    assert r.status_code == 200


def _security_headers_ok(headers):
    hsts = headers.get("Strict-Transport-Security")
    problems = []
    m = re.search(r"max-age\s*=\s*\"?(\d+)", hsts or "")
    if not m or int(m.group(1)) < 31536000:
        problems.append(f"Strict-Transport-Security={hsts!r}")
    if (headers.get("X-Content-Type-Options") or "").strip().lower() != "nosniff":
        problems.append(f"X-Content-Type-Options={headers.get('X-Content-Type-Options')!r}")
    return problems


def test_security_headers_on_every_response(server):
    cases = [
        ("GET", "/v2/health/live", False, True, None),
        ("GET", "/v2/health/ready", False, False, None),
        ("GET", "/v2", False, True, None),
        ("GET", "/v2", False, False, None),  # 401
        ("GET", "/v2/models/mlp_torch", False, True, None),
        ("GET", "/v2/models/nope", False, True, None),  # 404
        ("GET", "/v2/no/such/route", False, True, None),  # 404
        ("POST", "/v2/models/mlp_torch/infer", False, True, b"{not json"),  # 400
        ("POST", "/v2/models/mlp_torch/infer", False, True,
         b'{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}'),
        ("GET", "/v1/models", True, True, None),
        ("GET", "/v1/models", True, False, None),  # 401
        ("GET", "/v1/nope", True, True, None),  # 404
        ("GET", "/v1/audit?limit=1", True, True, None),
    ]
    failures = []
    for method, path, admin, token, body in cases:
        r = server._request(method, path, admin, token, data=body)
        problems = _security_headers_ok(r.headers)
        if problems:
            failures.append(f"{method} {'admin' if admin else 'data'} {path} -> {r.status_code}: {problems}")
    assert not failures, "responses without the security headers:\n" + "\n".join(failures)
