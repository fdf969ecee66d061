"""Server logs, the access log and SIGHUP reloads, against one real server.

One installation for the whole module (one start: ~3 s): JSON server logs at debug level
(`--log-level debug` over `[logging] level = "info"`), an access log file, one XGBoost model.
The tests run in file order; the last two reload the server's certificate and leave it changed.
"""

import json
import os
import pathlib
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from aegis_testlib import (http_request_bytes, infer_body, read_response, reference_case, start_installation,
                           stop_and_check, tls_connect)

MODEL = "xgb"
PASSWORD = "correct-horse-battery-staple-7731"
TOTP = "918273"
QUERY_SECRET = "q-secret-5521"


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    i = start_installation(tmp_path_factory.mktemp("aegis-logs"), models=[MODEL],
                           config={("logging", "format"): "json", ("logging", "level"): "info",
                                   ("logging", "access_log"): "access.log"},
                           serve_args=("--log-level", "debug"))
    yield i
    stop_and_check(i)


def server_log_lines(inst) -> list[str]:
    return [line for line in inst.last_stdout.read_text(errors="replace").splitlines() if line.strip()]


def json_log(inst) -> list[dict]:
    return [json.loads(line) for line in server_log_lines(inst)]


def access_lines(inst, want: int, timeout: float = 10) -> list[dict]:
    """The access log's lines once there are at least `want` (it is written by a background thread)."""
    path = inst.dir / "access.log"
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [json.loads(line) for line in text.splitlines()]
        if len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_server_log_is_json_at_the_command_lines_level(inst):
    # A TLS handshake that fails is logged at debug only: visible because --log-level debug
    # overrides [logging] level = "info".
    with socket.create_connection(("127.0.0.1", inst.data_port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05garbage")
        try:
            s.recv(100)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while not any(e["level"] == "debug" and "TLS handshake" in e["message"] for e in json_log(inst)):
        assert time.monotonic() < deadline, "no debug line for a failed handshake:\n" + "\n".join(
            server_log_lines(inst)[-10:])
        time.sleep(0.05)
    lines = server_log_lines(inst)
    for line in lines:
        event = json.loads(line)  # every line is one JSON object, whoever wrote it
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"]), line
        assert event["level"] in ("trace", "debug", "info", "warn", "error", "critical"), line
        assert isinstance(event["message"], str)
    pushed = [e for e in json_log(inst) if e["message"].startswith(f"pushed model {MODEL} version 1")]
    assert pushed and pushed[0]["model"] == MODEL and pushed[0]["version"] == "1", pushed


def test_access_log_has_one_line_per_request_and_no_secrets(inst):
    x, _ = reference_case(MODEL)
    body = json.dumps(infer_body(x)).encode()
    before = len(access_lines(inst, 0, timeout=0))
    r = inst.infer(MODEL, body, headers={"X-Request-Id": "access-infer-1", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    r = inst.get(f"/v1/whoami?token={QUERY_SECRET}", admin=True)
    assert r.status_code == 200, r.text
    r = inst.post("/v1/login", admin=True, token=False,
                  json={"user": "nobody-here", "password": PASSWORD, "totp": TOTP})
    assert r.status_code == 401, r.text
    # A path that decodes to a Unicode line separator, and one with a newline (refused by
    # the HTTP layer, and still one line each).
    r = inst.get("/v2/models/a%E2%80%A8b/ready", headers={"Cookie": "session=cookie-secret-1"})
    assert r.status_code in (400, 403, 404), r.text
    r = inst.get("/v2/models/a%0aforged/ready")
    assert r.status_code == 400, r.text
    lines = access_lines(inst, before + 5)
    new = lines[before:]
    assert len(new) == 5, new
    infer, whoami, login, separator, newline = new
    assert infer["request_id"] == "access-infer-1"
    assert (infer["method"], infer["path"], infer["status"]) == ("POST", f"/v2/models/{MODEL}/infer", 200)
    assert (infer["model"], infer["version"], infer["action"]) == (MODEL, "1", "infer")
    assert infer["principal"].startswith("token:"), infer
    assert infer["bytes_in"] == len(body), infer
    assert infer["bytes_out"] > len(r.content) and infer["duration_ms"] >= 0 and infer["listener"] == "data"
    assert infer["remote"].startswith("127.0.0.1:")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", infer["time"])
    assert (whoami["path"], whoami["listener"], whoami["status"]) == ("/v1/whoami", "admin", 200)
    assert (login["path"], login["status"]) == ("/v1/login", 401) and "principal" not in login
    assert separator["path"] == "/v2/models/a\u2028b/ready", separator
    # As sent (requests writes %0A), without a query.
    assert (newline["path"].lower(), newline["status"]) == ("/v2/models/a%0aforged/ready", 400), newline
    raw = (inst.dir / "access.log").read_bytes()
    assert b"\xe2\x80\xa8" not in raw and b"\\u2028" in raw, "a line separator must be escaped"
    text = raw.decode()
    server_log = inst.last_stdout.read_text()
    for secret in (inst.token, PASSWORD, TOTP, QUERY_SECRET, "cookie-secret-1"):
        assert secret not in text, f"{secret!r} in the access log"
        assert secret not in server_log, f"{secret!r} in the server log"
    assert "Bearer" not in text and "authorization" not in text.lower() and "cookie" not in text.lower()
    assert stat.S_IMODE(os.stat(inst.dir / "access.log").st_mode) == 0o600


def make_pki(folder: pathlib.Path, serial: str) -> dict:
    """A CA and a server certificate for localhost/127.0.0.1 from it, with the given serial (hex)."""
    folder.mkdir(exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=reload-ca",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    (folder / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                    "keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", f"0x{serial}",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")
    os.chmod(folder / "server.key", 0o600)
    return {name: str(folder / f) for name, f in (("ca", "ca.crt"), ("cert", "server.crt"), ("key", "server.key"))}


def served_serial(port: int) -> str:
    """The serial of the certificate a new connection gets, as `openssl s_client` sees it."""
    shown = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"],
                           input="", capture_output=True, text=True, timeout=20)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", shown.stdout, re.S)
    assert pem, shown.stdout[-1500:] + shown.stderr[-1500:]
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem.group(0), capture_output=True,
                         text=True, check=True).stdout
    return out.strip().split("=", 1)[1].upper()


def reload_and_wait(inst) -> dict:
    seen = {e.get("seq") for e in inst.audit_events() if e.get("action") == "config.reload"}
    inst.proc.send_signal(signal.SIGHUP)
    return inst.wait_audit(lambda e: e.get("action") == "config.reload" and e.get("seq") not in seen,
                           what="config.reload")


def metric(inst, name: str) -> float:
    text = inst.get("/metrics", admin=True).text
    line = next(l for l in text.splitlines() if l.startswith(name + " "))
    return float(line.split()[1])


def test_sighup_swaps_the_certificate_and_keeps_open_connections(inst):
    old_serial = served_serial(inst.data_port)
    old_ca = inst.ca
    # An open keep-alive connection, made before the reload.
    kept = tls_connect(inst.data_port, old_ca)
    kept.sendall(http_request_bytes("GET", "/v2/health/live"))
    assert read_response(kept).status_code == 200
    old_der = kept.getpeercert(binary_form=True)

    pki = make_pki(inst.root / "pki-new", "5EED0001")
    inst.set_config("tls", "cert", pki["cert"])
    inst.set_config("tls", "key", pki["key"])
    inst.set_config("tls", "ca", pki["ca"])
    inst.set_config("guard", "rate", "999/s")  # needs a restart: named in a warning, not applied
    inst.set_config("logging", "level", "warn")  # --log-level debug still wins
    event = reload_and_wait(inst)
    assert event["decision"] == "allow", event
    assert "tls.cert" in event["reason"] and "not applied until a restart: guard.rate" in event["reason"], event

    assert served_serial(inst.data_port) == "5EED0001" != old_serial
    assert served_serial(inst.admin_port) == "5EED0001"
    inst.ca = pki["ca"]  # new connections verify against the new CA from now on
    assert inst.get("/v2/health/live", token=False).status_code == 200
    # The connection opened before the reload still works, on its old certificate.
    kept.sendall(http_request_bytes("GET", "/v2/health/live"))
    assert read_response(kept).status_code == 200
    assert kept.getpeercert(binary_form=True) == old_der
    kept.close()

    warnings = [e for e in json_log(inst) if e["level"] == "warn" and "restart to apply" in e["message"]]
    assert warnings and "guard.rate" in warnings[-1]["message"], warnings
    assert metric(inst, "aegis_config_last_reload_success") == 1
    assert abs(metric(inst, "aegis_config_last_reload_timestamp_seconds") - time.time()) < 60
    assert metric(inst, "aegis_tls_cert_expiry_seconds") < 3 * 86400  # the new certificate's 2 days


def test_sighup_with_a_broken_certificate_keeps_the_old_one_and_audits_the_failure(inst):
    serial = served_serial(inst.data_port)
    broken = inst.root / "broken.crt"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    inst.set_config("tls", "cert", str(broken))
    event = reload_and_wait(inst)
    assert event["decision"] == "deny", event
    assert "tls" in event["reason"] and "the running configuration is kept" in event["reason"], event
    assert inst.alive(), "a bad certificate must never stop the server"
    assert served_serial(inst.data_port) == serial
    assert inst.get("/v2/health/live", token=False).status_code == 200
    assert metric(inst, "aegis_config_last_reload_success") == 0
    errors = [e for e in json_log(inst) if e["level"] == "error" and "reload refused" in e["message"]]
    assert errors, server_log_lines(inst)[-10:]
    # A request answered 5xx is logged with its request id: a model whose signer is no
    # longer trusted answers 503.
    r = inst.delete("/v1/trust/test-publisher")
    assert r.status_code == 200, r.text
    x, _ = reference_case(MODEL)
    r = inst.infer(MODEL, infer_body(x), headers={"X-Request-Id": "five-hundred-1"})
    assert r.status_code == 503, r.text
    deadline = time.monotonic() + 10
    while not [e for e in json_log(inst) if e.get("request_id") == "five-hundred-1"]:
        assert time.monotonic() < deadline, server_log_lines(inst)[-10:]
        time.sleep(0.05)
    line = [e for e in json_log(inst) if e.get("request_id") == "five-hundred-1"][0]
    assert line["level"] == "error" and line["status"] == 503 and line["model"] == MODEL, line
    assert [e for e in json_log(inst) if e["level"] == "warn" and e.get("model") == MODEL
            and "withdrawn" in e["message"]], "the withdrawal is logged with its model"
