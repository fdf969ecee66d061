"""SIEM sinks against the real server: [audit.syslog] (RFC 5424 over UDP, TCP with RFC 6587
octet counting, and TLS per RFC 5425) and [audit.webhook] (HTTPS POST of JSON batches, retries,
bounded queue, drops audited). Every receiver is a local Python server on 127.0.0.1; syslog
messages are parsed strictly and their JSON compared with the events in the audit files.
"""

import datetime
import json
import os
import re
import subprocess
import socket
import ssl
import threading
import time

import pytest

from aegis_testlib import Installation, aegis, assert_one_line_error, describe, free_port, stop_and_check
from identity_lib import TestCA, append_config, toml_string
from cryptography import x509
from cryptography.x509.oid import NameOID

import http.server

BOM = b"\xef\xbb\xbf"
TIMESTAMP = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
FACILITY_AUTHPRIV = 10
SEVERITY = {"deny": 4, "allow": 6}  # warning, informational


# --------------------------------------------------------------------------- RFC 5424 parsing


def _token(rest: bytes, what: str, max_len: int) -> tuple[bytes, bytes]:
    sp = rest.find(b" ")
    assert sp > 0, f"{what}: missing or empty in {rest[:80]!r}"
    tok = rest[:sp]
    assert len(tok) <= max_len, f"{what} longer than {max_len}: {tok!r}"
    assert all(33 <= b <= 126 for b in tok), f"{what} not PRINTUSASCII: {tok!r}"
    return tok, rest[sp + 1:]


def _structured_data(rest: bytes) -> tuple[dict, bytes]:
    """SD-ELEMENTs per RFC 5424 §6.3, with '\\"', '\\\\' and '\\]' unescaped."""
    if rest.startswith(b"-"):
        return {}, rest[1:]
    elements = {}
    while rest.startswith(b"["):
        i = 1
        while rest[i:i + 1] not in (b" ", b"]"):
            i += 1
        sd_id = rest[1:i].decode("ascii")
        assert sd_id and len(sd_id) <= 32 and not re.search(r'[= "\]]', sd_id), f"bad SD-ID {sd_id!r}"
        params = {}
        while rest[i:i + 1] == b" ":
            j = rest.index(b"=", i)
            name = rest[i + 1:j].decode("ascii")
            assert name and len(name) <= 32 and not re.search(r'[= "\]]', name), f"bad PARAM-NAME {name!r}"
            assert rest[j + 1:j + 2] == b'"', f"PARAM-VALUE of {name} not quoted"
            k = j + 2
            value = bytearray()
            while True:
                c = rest[k:k + 1]
                assert c, "unterminated PARAM-VALUE"
                if c == b"\\" and rest[k + 1:k + 2] in (b'"', b"\\", b"]"):
                    value += rest[k + 1:k + 2]
                    k += 2
                    continue
                assert c != b"]", "unescaped ']' in PARAM-VALUE"
                if c == b'"':
                    break
                value += c
                k += 1
            params[name] = value.decode("utf-8")
            i = k + 1
        assert rest[i:i + 1] == b"]", f"SD-ELEMENT {sd_id} not closed"
        elements[sd_id] = params
        rest = rest[i + 1:]
    assert elements, "STRUCTURED-DATA is neither '-' nor an element"
    return elements, rest


def parse_rfc5424(data: bytes) -> dict:
    m = re.match(rb"^<(0|[1-9]\d{0,2})>1 ", data)
    assert m, f"no <PRI>1 header: {data[:40]!r}"
    pri = int(m.group(1))
    assert pri <= 191, pri
    rest = data[m.end():]
    ts, rest = _token(rest, "TIMESTAMP", 32)
    assert TIMESTAMP.match(ts), f"TIMESTAMP {ts!r}"
    host, rest = _token(rest, "HOSTNAME", 255)
    app, rest = _token(rest, "APP-NAME", 48)
    procid, rest = _token(rest, "PROCID", 128)
    msgid, rest = _token(rest, "MSGID", 32)
    sd, rest = _structured_data(rest)
    assert rest.startswith(b" "), "no SP before MSG"
    msg = rest[1:]
    assert msg.startswith(BOM), f"MSG lacks the UTF-8 BOM: {msg[:20]!r}"
    return {"facility": pri // 8, "severity": pri % 8, "timestamp": ts.decode(), "hostname": host.decode(),
            "app": app.decode(), "procid": procid.decode(), "msgid": msgid.decode(), "sd": sd,
            "json": json.loads(msg[3:].decode("utf-8"))}


# --------------------------------------------------------------------------- receivers


class SyslogReceiver:
    """UDP datagrams, or TCP/TLS streams with octet-counting frames, on 127.0.0.1."""

    def __init__(self, transport: str, tls_files=None):
        self.transport = transport
        self.messages: list[bytes] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stopped = False
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ctx = None
        if transport == "tls":
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
        if transport != "udp":
            self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                if self.transport == "udp":
                    data = self.sock.recv(65536)
                    with self.lock:
                        self.messages.append(data)
                    continue
                conn, _ = self.sock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            threading.Thread(target=self._stream, args=(conn,), daemon=True).start()

    def _stream(self, conn):
        try:
            if self.ctx is not None:
                conn.settimeout(10)
                conn = self.ctx.wrap_socket(conn, server_side=True)
            conn.settimeout(None)
            buf = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while True:  # RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG
                    m = re.match(rb"^([1-9]\d{0,6}) ", buf)
                    if not m:
                        assert not buf or re.match(rb"^\d{0,7}$", buf), f"bad octet-counting frame: {buf[:40]!r}"
                        break
                    n = int(m.group(1))
                    if len(buf) < m.end() + n:
                        break
                    with self.lock:
                        self.messages.append(buf[m.end():m.end() + n])
                    buf = buf[m.end() + n:]
        except Exception as e:  # noqa: BLE001 - recorded, asserted on by the test
            with self.lock:
                self.errors.append(repr(e))
        finally:
            conn.close()

    def parsed(self) -> list[dict]:
        with self.lock:
            raw = list(self.messages)
        return [parse_rfc5424(m) for m in raw]

    def close(self):
        self.stopped = True
        self.sock.close()


class WebhookReceiver:
    """HTTPS on 127.0.0.1 that answers each POST with the next scripted status (then 200)."""

    def __init__(self, tls_files, script=()):
        self.script = list(script)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    status = outer.script.pop(0) if outer.script else 200
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                           "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/ingest/aegis"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def received(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = TestCA(tmp_path_factory.mktemp("sink-pki"), "Sink test CA")
    server = ca.issue("collector", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "collector")]),
                      sans=("IP:127.0.0.1", "DNS:localhost"), server=True)
    return ca, server


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def make_traffic(inst: Installation):
    """An unauthenticated, an authenticated and a denied request."""
    assert inst.get("/v2/health/live", token=False).status_code == 200
    assert inst.get("/v2").status_code == 200
    assert inst.get("/v2", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def event_messages(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["msgid"] != "tree_head"]


def served_events(inst: Installation) -> list[dict]:
    """The audit events of this serve run from its server.start on. (Events the log
    writes while it opens, before the sinks are registered, may or may not reach them.)"""
    events = inst.audit_events()
    starts = [i for i, e in enumerate(events) if e.get("action") == "server.start"]
    assert starts, "no server.start event"
    return events[starts[-1]:]


def from_server_start(received: list[dict], what: str) -> list[dict]:
    starts = [i for i, e in enumerate(received) if e.get("action") == "server.start"]
    assert len(starts) == 1, f"{what}: expected one server.start, got {len(starts)}"
    return received[starts[0]:]


def _seconds(rfc3339: str) -> float:
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def new_installation(tmp_path, config_text: str) -> Installation:
    inst = Installation(tmp_path)
    inst.init()
    append_config(inst, config_text)
    return inst


# --------------------------------------------------------------------------- syslog


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_syslog_receives_rfc5424_messages_equal_to_the_audit_events(tmp_path, pki, transport):
    ca, server_files = pki
    rx = SyslogReceiver(transport, server_files)
    config = f'[audit.syslog]\naddress = "127.0.0.1:{rx.port}"\ntransport = "{transport}"\n'
    if transport == "tls":
        config += f"ca = {toml_string(str(ca.cert_path))}\n"
    inst = new_installation(tmp_path, config)
    inst.start()
    try:
        make_traffic(inst)
        denied = inst.wait_audit(lambda e: e.get("status") == 401, what="401 event")
        wait_for(lambda: any(m["json"] == denied for m in rx.parsed()), what="the denied event at the receiver")
        expected = served_events(inst)
        wait_for(lambda: any(m["json"] == expected[-1] for m in rx.parsed()), what="the last event at the receiver")
    finally:
        stop_and_check(inst)
        rx.close()
    assert not rx.errors, rx.errors
    everything = rx.parsed()
    logged = inst.audit_events()
    for m in everything:  # nothing that is not in the local log
        assert m["json"] in logged or m["msgid"] == "tree_head", m
    events = event_messages(everything)
    if transport == "udp":  # datagrams carry no order guarantee
        key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
        got_keys = {key(m["json"]) for m in events}
        assert all(key(e) in got_keys for e in expected), "events missing at the receiver"
        got = [m for m in events if key(m["json"]) in set(map(key, expected))]
    else:
        got = from_server_start([dict(m, action=m["json"]["action"]) for m in events], "syslog")[:len(expected)]
        assert [m["json"] for m in got] == expected
    heads = [m for m in everything if m["msgid"] == "tree_head"]
    assert heads, "no signed tree head reached the collector (one is signed at shutdown at the latest)"
    for m in heads:  # signed tree heads travel the same way
        assert m["sd"]["aegis@32473"]["tree_size"] == str(m["json"]["tree_size"]), m
        assert m["sd"]["aegis@32473"]["root"] == m["json"]["root"], m
    seqs = sorted(int(m["sd"]["meta"]["sequenceId"]) for m in everything)
    assert seqs == list(range(1, len(everything) + 1)), seqs
    for m in got:
        e = m["json"]
        assert m["facility"] == FACILITY_AUTHPRIV, m
        assert m["severity"] == SEVERITY[e["decision"]], m
        assert m["app"] == "aegis" and m["procid"] == str(inst.proc.pid), m
        assert m["msgid"] == e["action"], m
        assert m["timestamp"] == e["time"], m
        sd = m["sd"]["aegis@32473"]
        assert sd.get("seq") == (str(e["seq"]) if "seq" in e else None), m
        assert sd["decision"] == e["decision"] and sd["status"] == str(e["status"]), m
        assert sd["principal"] == e["principal"] and sd["resource"] == e["resource"], m
    actions = [m["json"]["action"] for m in got]
    assert "server.start" in actions and "server.metadata" in actions and "server.live" in actions, actions
    assert any(m["severity"] == 4 and m["json"]["status"] == 401 for m in got), "the denial is not a warning"


def test_syslog_tls_refuses_a_collector_it_cannot_verify(tmp_path, pki):
    _, server_files = pki
    other = TestCA(tmp_path / "other-ca", "Other CA")  # the sink trusts this one, not the collector's
    rx = SyslogReceiver("tls", server_files)
    inst = new_installation(tmp_path, f'[audit.syslog]\naddress = "127.0.0.1:{rx.port}"\ntransport = "tls"\n'
                                      f"ca = {toml_string(str(other.cert_path))}\n")
    inst.start()
    try:
        make_traffic(inst)
        inst.wait_audit(lambda e: e.get("status") == 401, what="401 event")
        wait_for(lambda: rx.errors, what="a refused TLS handshake at the collector")
    finally:
        stop_and_check(inst)
        rx.close()
    assert rx.messages == [], "a message went to an unverified collector"


# --------------------------------------------------------------------------- webhook


def token_file(tmp_path, mode=0o600) -> tuple[str, str]:
    token = "siem-" + os.urandom(16).hex()
    path = tmp_path / "siem.token"
    path.write_text(token + "\n")
    os.chmod(path, mode)
    return str(path), token


def webhook_config(url: str, ca, token_path=None, **extra) -> str:
    text = f"[audit.webhook]\nurl = {toml_string(url)}\nca = {toml_string(str(ca))}\n"
    if token_path:
        text += f"token_file = {toml_string(token_path)}\n"
    for k, v in extra.items():
        text += f"{k} = {v}\n"
    return text


def batch_events(requests) -> list[dict]:
    return [e for r in requests if r["status"] == 200 for e in json.loads(r["body"])["events"]]


def test_webhook_posts_json_batches_with_the_bearer_token(tmp_path, pki):
    ca, server_files = pki
    rx = WebhookReceiver(server_files)
    path, token = token_file(tmp_path)
    inst = new_installation(tmp_path, webhook_config(rx.url, ca.cert_path, path, batch_size=2))
    inst.start()
    try:
        make_traffic(inst)
        inst.wait_audit(lambda e: e.get("status") == 401, what="401 event")
        expected = served_events(inst)
        wait_for(lambda: expected[-1] in batch_events(rx.received()), what="the events at the webhook")
    finally:
        stop_and_check(inst)
        rx.close()
    received = rx.received()
    for r in received:
        assert r["path"] == "/ingest/aegis", r
        assert r["headers"].get("Authorization") == f"Bearer {token}", r["headers"]
        assert r["headers"].get("Content-Type") == "application/json", r["headers"]
        body = json.loads(r["body"])
        assert set(body) == {"events", "heads"} and isinstance(body["heads"], list), body
        assert 1 <= len(body["events"]) + len(body["heads"]) <= 2, body
    heads = [h for r in received if r["status"] == 200 for h in json.loads(r["body"])["heads"]]
    assert heads and all({"tree_size", "root", "signature"} <= set(h) for h in heads), heads
    delivered = batch_events(received)
    assert all(e in inst.audit_events() for e in delivered), "an event that is not in the local log"
    assert from_server_start(delivered, "webhook")[:len(expected)] == expected
    assert token not in "".join(json.dumps(e) for e in inst.audit_events()), "the token leaked into the audit log"


def test_webhook_retries_a_batch_refused_with_503(tmp_path, pki):
    ca, server_files = pki
    rx = WebhookReceiver(server_files, script=[503])
    inst = new_installation(tmp_path, webhook_config(rx.url, ca.cert_path))
    inst.start()
    try:
        wait_for(lambda: len(rx.received()) >= 2, what="the retried batch")
    finally:
        stop_and_check(inst)
        rx.close()
    first, second = rx.received()[:2]
    assert first["status"] == 503 and second["status"] == 200
    assert first["body"] == second["body"], "the retry must resend the same batch"
    assert json.loads(second["body"])["events"], second
    assert not [e for e in inst.audit_events() if e["action"] == "audit.sink_drop"], "nothing was dropped"


def test_webhook_down_fills_the_queue_and_the_drops_are_audited(tmp_path, pki):
    ca, _ = pki
    url = f"https://127.0.0.1:{free_port()}/ingest"  # nothing listens there
    inst = new_installation(tmp_path, webhook_config(url, ca.cert_path, queue_size=2, batch_size=1))
    inst.start()
    try:
        for _ in range(10):
            make_traffic(inst)
        drop = inst.wait_audit(lambda e: e.get("action") == "audit.sink_drop", timeout=20, what="audit.sink_drop")
        for _ in range(5):
            make_traffic(inst)  # drops go on; the next report waits 10 s
        inst.wait_audit(lambda e: e.get("status") == 401 and e["time"] > drop["time"], what="later traffic")
        snapshot = inst.audit_events()
        during = [e for e in snapshot if e["action"] == "audit.sink_drop"]
        # The drops are visible to monitoring too, and the exposition stays valid.
        r = inst.get("/metrics", admin=True)
        assert r.status_code == 200, r.text
        samples = dict(re.findall(r'^(aegis_audit_sink_\w+\{sink="webhook"\}) (\S+)$', r.text, re.M))
        assert float(samples['aegis_audit_sink_dropped_total{sink="webhook"}']) > 0, samples
        assert float(samples['aegis_audit_sink_delivered_total{sink="webhook"}']) == 0, samples
        assert float(samples['aegis_audit_sink_failures_total{sink="webhook"}']) > 0, samples
        check = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=r.text, capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        stop_and_check(inst)
    assert drop["principal"] == "system" and drop["resource"] == "sink:webhook", drop
    if _seconds(snapshot[-1]["time"]) - _seconds(drop["time"]) < 10:
        assert len(during) == 1, f"drops went on, but the next report must wait 10 s: {during}"
    events = inst.audit_events()
    drops = [e for e in events if e["action"] == "audit.sink_drop"]
    counts = []
    for e in drops:
        m = re.fullmatch(r"dropped (\d+) events", e.get("reason", ""))
        assert m, e
        counts.append(int(m.group(1)))
    assert all(n > 0 for n in counts), counts
    assert len(drops) >= 2, "a final report at shutdown for the drops since the last one"
    gaps = [_seconds(b["time"]) - _seconds(a["time"]) for a, b in zip(drops[:-2], drops[1:-1])]
    assert all(g >= 10 for g in gaps), f"reports while running must be 10 s apart: {gaps}"
    # Nothing was delivered: every durable event of the run up to the sink's stop
    # (the last report itself came after it) was dropped and reported.
    served = served_events(inst)
    offered = [i for i, e in enumerate(served) if e["action"] == "audit.sink_drop"][-1]  # before the last report
    assert sum(counts) >= offered, (counts, offered)


# --------------------------------------------------------------------------- config errors


@pytest.fixture(scope="module")
def idle_installation(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("sink-config"))
    inst.init()
    return inst


def _serve_with(inst: Installation, text: str):
    original = inst.config_path.read_text()
    try:
        append_config(inst, text)
        return aegis("serve", "--data-dir", inst.dir, "--listen", f"127.0.0.1:{free_port()}",
                     "--admin-listen", f"127.0.0.1:{free_port()}", env=inst.env(), timeout=60)
    finally:
        inst.config_path.write_text(original)


BAD_CONFIGS = {
    "http-webhook": ('[audit.webhook]\nurl = "http://127.0.0.1:9/ingest"\n', "audit.webhook.url"),
    "webhook-credentials-in-url": ('[audit.webhook]\nurl = "https://u:p@127.0.0.1:9/"\n', "audit.webhook.url"),
    "plaintext-udp-off-loopback": ('[audit.syslog]\naddress = "192.0.2.10:514"\ntransport = "udp"\n',
                                   "audit.syslog.address"),
    "plaintext-tcp-off-loopback": ('[audit.syslog]\naddress = "siem.example:514"\ntransport = "tcp"\n',
                                   "audit.syslog.address"),
    "unknown-syslog-key": ('[audit.syslog]\naddress = "127.0.0.1:514"\ntransport = "udp"\nport = 514\n',
                           "audit.syslog.port"),
    "unknown-webhook-key": ('[audit.webhook]\nurl = "https://127.0.0.1:9/"\ntoken = "abc"\n', "audit.webhook.token"),
    "unknown-sink": ('[audit.kafka]\nbrokers = "127.0.0.1:9092"\n', "audit.kafka"),
    "bad-transport": ('[audit.syslog]\naddress = "127.0.0.1:514"\ntransport = "relp"\n', "audit.syslog.transport"),
    "bad-facility": ('[audit.syslog]\naddress = "127.0.0.1:514"\nfacility = "kern"\n', "audit.syslog.facility"),
    "udp-message-too-large": ('[audit.syslog]\naddress = "127.0.0.1:514"\ntransport = "udp"\n'
                              'max_message_bytes = 70000\n', "audit.syslog.max_message_bytes"),
    "ca-for-plaintext": ('[audit.syslog]\naddress = "127.0.0.1:514"\ntransport = "tcp"\nca = "tls/ca.crt"\n',
                         "audit.syslog.ca"),
    "missing-address": ('[audit.syslog]\ntransport = "tls"\n', "audit.syslog.address"),
    "zero-queue": ('[audit.webhook]\nurl = "https://127.0.0.1:9/"\nqueue_size = 0\n', "audit.webhook.queue_size"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_sink_config_refuses_to_serve_with_one_line(idle_installation, case):
    text, key = BAD_CONFIGS[case]
    proc = _serve_with(idle_installation, text)
    assert_one_line_error(proc, "aegis: ")
    assert key in proc.stderr, f"the error must name {key}\n" + describe(proc)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_webhook_token_file_readable_by_others_is_refused(idle_installation, tmp_path, mode):
    path, token = token_file(tmp_path, mode)
    proc = _serve_with(idle_installation, webhook_config("https://127.0.0.1:9/", idle_installation.ca, path))
    assert_one_line_error(proc, "aegis: ")
    assert "audit.webhook.token_file" in proc.stderr and "chmod 600" in proc.stderr, describe(proc)
    assert token not in proc.stderr
