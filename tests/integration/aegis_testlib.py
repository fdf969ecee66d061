"""Helpers for Aegis's black-box integration tests.

Everything here drives the real `aegis` binary from the outside: the CLI through
subprocess, the two HTTPS planes through `requests` (verifying the installation's
own CA) or through raw TLS sockets when a test needs byte-exact requests.

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import tomllib

import numpy as np
import pytest
import requests

import audit_merkle
import oms

REPO = pathlib.Path(__file__).resolve().parents[2]
AEGIS_BIN = os.environ.get("AEGIS_BIN", str(REPO / "build" / "release" / "src" / "cli" / "aegis"))
EXAMPLES = pathlib.Path(os.environ.get("AEGIS_EXAMPLES", str(REPO / "examples")))

# The example models every shared server gets, as (name, file, format).
EXAMPLE_MODELS = [
    ("mlp_onnx", "mlp.onnx", "onnx"),
    ("mlp_torch", "mlp.pt", "torchscript"),
    ("xgb", "xgb_classifier.json", "xgboost"),
    ("xgb_ubj", "xgb_classifier.ubj", "xgboost"),
    ("echo", "echo.pt", "torchscript"),
]

PLATFORMS = {"onnx": "onnxruntime_onnx", "torchscript": "pytorch_libtorch", "xgboost": "xgboost"}

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

NP_DTYPES = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}

# Variables that would leak the developer's own settings into a hermetic test run.
_CLIENT_ENV = ("AEGIS_SERVER", "AEGIS_TOKEN", "AEGIS_CACERT", "AEGIS_PASSPHRASE")


# --------------------------------------------------------------------------- CLI


def clean_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _CLIENT_ENV}
    if extra:
        env.update(extra)
    return env


def aegis(*args, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """Runs the aegis CLI; returns the CompletedProcess (text mode, output captured)."""
    return subprocess.run([AEGIS_BIN, *map(str, args)], env=clean_env(env), capture_output=True,
                          text=True, timeout=timeout, input=input if input is not None else "")


def project_version() -> str:
    """The release as CMakeLists.txt's project() states it, the one place it is set."""
    m = re.search(r"project\(aegis VERSION (\S+)", (REPO / "CMakeLists.txt").read_text())
    assert m, "CMakeLists.txt has no project(aegis VERSION ...)"
    return m.group(1)


def assert_build_revision(revision: str) -> None:
    """A revision the build reported (cmake/aegis_revision.cmake) names a commit of this clone: `git describe`'s
    abbreviated commit, after a tag and a count when there is one, with "-dirty" for uncommitted changes; "unknown"
    only when the source tree is not a git clone."""
    if not (REPO / ".git").exists():
        assert revision == "unknown", revision
        return
    m = re.fullmatch(r"(?:.+-\d+-g)?([0-9a-f]{12,40})(-dirty)?", revision) or re.fullmatch(r"(.+?)(-dirty)?", revision)
    proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "-q", "--verify", m.group(1) + "^{commit}"],
                          capture_output=True)
    assert proc.returncode == 0, f"revision {revision!r} names no commit of {REPO}"


def describe(proc) -> str:
    return (f"command: {' '.join(map(str, proc.args))}\nexit: {proc.returncode}\n"
            f"stdout: {proc.stdout[-3000:]!r}\nstderr: {proc.stderr[-3000:]!r}")


def assert_one_line_error(proc, prefix: str | None = None):
    """The CLI's failure contract: non-zero exit and exactly one line on stderr."""
    assert proc.returncode != 0, "expected a non-zero exit\n" + describe(proc)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}\n" + describe(proc)
    if prefix is not None:
        assert lines[0].startswith(prefix), f"stderr line must begin with {prefix!r}\n" + describe(proc)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- config


def set_toml_value(path: pathlib.Path, section: str, key: str, value):
    """Sets `key = value` in `[section]` of a TOML file, keeping everything else as is."""
    literal = json.dumps(value) if isinstance(value, str) else (
        ("true" if value else "false") if isinstance(value, bool) else str(value))
    lines = path.read_text().splitlines()
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    keyline = re.compile(rf"^\s*{re.escape(key)}\s*=")
    start = None
    for i, line in enumerate(lines):
        m = header.match(line)
        if m and m.group(1) == section:
            start = i
            break
    if start is None:
        lines += ["", f"[{section}]", f"{key} = {literal}"]
    else:
        end = len(lines)
        for j in range(start + 1, len(lines)):
            if header.match(lines[j]):
                end = j
                break
        for j in range(start + 1, end):
            if keyline.match(lines[j]):
                lines[j] = f"{key} = {literal}"
                break
        else:
            lines.insert(start + 1, f"{key} = {literal}")
    path.write_text("\n".join(lines) + "\n")
    parsed = tomllib.loads(path.read_text())
    assert parsed[section][key] == value, f"could not set [{section}] {key} in {path}"


# --------------------------------------------------------------------------- installation


class Installation:
    """One `aegis init` data directory and (at most) one running `aegis serve` on it."""

    def __init__(self, root: pathlib.Path, passphrase: str | None = None):
        self.root = pathlib.Path(root)
        self.dir = self.root / "data"
        self.passphrase = passphrase
        self.data_port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.data_port:
            self.admin_port = free_port()
        self.token: str | None = None
        self.ca: str | None = None
        self.proc: subprocess.Popen | None = None
        self.init_output: dict | None = None
        self._starts = 0
        self._log_paths: list[pathlib.Path] = []
        # The publisher whose signatures the test pushes carry: a key kept outside
        # the data directory, trusted for every model on first use.
        self.publisher = oms.generate_key()
        self._publisher_trusted = False

    # ---- init
    def env(self, extra: dict | None = None) -> dict:
        env = {}
        if self.passphrase is not None:
            env["AEGIS_PASSPHRASE"] = self.passphrase
        if extra:
            env.update(extra)
        return env

    def init(self, *extra_args):
        proc = aegis("init", "--data-dir", self.dir, "--json", *extra_args, env=self.env())
        assert proc.returncode == 0, "aegis init failed\n" + describe(proc)
        try:
            out = json.loads(proc.stdout)
        except ValueError as e:
            raise AssertionError(f"aegis init --json did not print one JSON object: {e}\n" + describe(proc))
        self.init_output = out
        self.token = out["admin_token"]
        self.ca = out["ca_cert"]
        return out

    @property
    def config_path(self) -> pathlib.Path:
        return self.dir / "aegis.toml"

    def set_config(self, section: str, key: str, value):
        set_toml_value(self.config_path, section, key, value)

    # ---- serve
    def start(self, wait: bool = True, extra_env: dict | None = None, timeout: float = 90, listen_flags=True,
              extra_args: tuple = ()):
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self._starts += 1
        out = self.root / f"serve-{self._starts}.stdout.log"
        err = self.root / f"serve-{self._starts}.stderr.log"
        self._log_paths += [out, err]
        args = [AEGIS_BIN, "serve", "--data-dir", str(self.dir)]
        if listen_flags:
            args += ["--listen", f"127.0.0.1:{self.data_port}", "--admin-listen", f"127.0.0.1:{self.admin_port}"]
        args += list(extra_args)
        self.last_stdout, self.last_stderr = out, err
        self.start_time = time.monotonic()
        self.proc = subprocess.Popen(args, env=clean_env(self.env(extra_env)), stdin=subprocess.DEVNULL,
                                     stdout=open(out, "wb"), stderr=open(err, "wb"))
        if wait:
            self.wait_live(timeout)
            self.wait_loaded(timeout)
        return self.proc

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_live(self, timeout: float = 90):
        self._wait_path("/v2/health/live", timeout)

    def wait_loaded(self, timeout: float = 90):
        """Until the start-up loading of the stored models has finished, well or not: the listeners
        open first (readiness waits for the models; a failed model may keep it at 503), and the
        server logs one line when the loading is done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"aegis serve exited with {self.proc.returncode} while loading\n"
                                     + self.log_tail())
            for p in (self.last_stdout, self.last_stderr):
                if p.exists() and " s after start" in p.read_text(errors="replace"):
                    return
            time.sleep(0.05)
        raise AssertionError(f"the stored models did not finish loading within {timeout}s\n" + self.log_tail())

    def wait_ready(self, timeout: float = 90):
        self._wait_path("/v2/health/ready", timeout)

    def _wait_path(self, path: str, timeout: float):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"aegis serve exited with {self.proc.returncode} before {path} answered 200\n"
                                     + self.log_tail())
            try:
                r = self.get(path, token=False, timeout=2)
                last = f"{r.status_code} {r.text[:200]}"
                if r.status_code == 200:
                    return
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError(f"{path} did not answer 200 within {timeout}s (last: {last})\n" + self.log_tail())

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        """Sends `sig` and waits; returns the exit code (None-safe: kills after timeout)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"aegis serve did not exit within {timeout}s of signal {sig!r}\n"
                                     + self.log_tail())
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self) -> str:
        parts = []
        for p in self._log_paths:
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)

    def log_tail(self, n: int = 40) -> str:
        text = []
        for p in self._log_paths[-2:]:
            if p.exists():
                lines = p.read_text(errors="replace").splitlines()[-n:]
                text.append(f"--- {p.name} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(text)

    # ---- HTTP
    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.data_port}{path}"

    def admin_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.admin_port}{path}"

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def session(self, token: bool = True) -> requests.Session:
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override s.verify
        s.verify = self.ca
        if token:
            s.headers.update(self.auth)
        return s

    def get(self, path, admin=False, token=True, **kw):
        return self._request("GET", path, admin, token, **kw)

    def post(self, path, admin=False, token=True, **kw):
        return self._request("POST", path, admin, token, **kw)

    def put(self, path, admin=True, token=True, **kw):
        return self._request("PUT", path, admin, token, **kw)

    def delete(self, path, admin=True, token=True, **kw):
        return self._request("DELETE", path, admin, token, **kw)

    def _request(self, method, path, admin, token, headers=None, timeout=60, **kw):
        h = dict(self.auth) if token else {}
        if headers:
            h.update(headers)
        url = self.admin_url(path) if admin else self.url(path)
        with requests.Session() as s:
            s.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE from the environment
            return s.request(method, url, headers=h, verify=self.ca, timeout=timeout, **kw)

    def trust_publisher(self):
        """Adds the test publisher's key to the trust store (once per installation)."""
        if self._publisher_trusted:
            return
        r = self.put("/v1/trust/test-publisher", json={"public_key": oms.public_pem(self.publisher), "models": "*"})
        assert r.status_code in (201, 409), f"trust add -> {r.status_code} {r.text}"
        self._publisher_trusted = True

    def bundle_file(self, model_file) -> str:
        """A bundle file (signed by the trusted test publisher) for `aegis model push --signature`."""
        self.trust_publisher()
        data = pathlib.Path(model_file).read_bytes()
        out = self.root / f"{hashlib.sha256(data).hexdigest()[:16]}.sig.json"
        out.write_bytes(oms.sign_bytes(data, self.publisher, name=pathlib.Path(model_file).name))
        return str(out)

    def push(self, name: str, version: str, data: bytes | pathlib.Path | str, fmt: str, sign: bool = True,
             bundle: bytes | None = None, headers: dict | None = None, **kw):
        """PUT a model version. By default the bytes are signed by the test publisher
        (trusted on first use); `bundle` sends that bundle instead; sign=False sends none."""
        if not isinstance(data, (bytes, bytearray)):
            data = pathlib.Path(data).read_bytes()
        h = {"Content-Type": "application/octet-stream"}
        if bundle is None and sign:
            self.trust_publisher()
            bundle = oms.sign_bytes(bytes(data), self.publisher)
        if bundle is not None:
            h["Aegis-Signature-Bundle"] = base64.b64encode(bundle).decode()
        h.update(headers or {})
        return self.put(f"/v1/models/{name}/versions/{version}?format={fmt}", data=data, headers=h, **kw)

    def push_ok(self, name, version, data, fmt):
        r = self.push(name, version, data, fmt)
        assert r.status_code == 201, f"PUT /v1/models/{name}/versions/{version}?format={fmt} -> {r.status_code} {r.text[:500]}"
        return r.json()

    def infer(self, model: str, body, version: str | None = None, **kw):
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        if isinstance(body, (dict, list)):
            return self.post(path, json=body, **kw)
        return self.post(path, data=body, **kw)

    def cli_env(self) -> dict:
        return {"AEGIS_SERVER": f"https://127.0.0.1:{self.admin_port}", "AEGIS_TOKEN": self.token,
                "AEGIS_CACERT": self.ca}

    def cli_flags(self) -> list:
        return ["--server", f"https://127.0.0.1:{self.admin_port}", "--token", self.token, "--cacert", self.ca]

    # ---- files
    def files(self):
        return sorted(p for p in self.dir.rglob("*") if p.is_file())

    def audit_events(self) -> list[dict]:
        events = []
        audit_dir = self.dir / "audit"
        # Event segments only: heads.jsonl holds signed tree heads, key.json the audit key.
        for p in audit_merkle.segments(audit_dir):
            if not p.is_file():
                continue
            for line in audit_merkle.segment_bytes(p).decode(errors="replace").splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    events.append(obj)
        return events

    def wait_audit(self, predicate, timeout: float = 10, what: str = "event"):
        """Polls the audit files until an event satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.audit_events()
            for e in events:
                if predicate(e):
                    return e
            if time.monotonic() > deadline:
                tail = "\n".join(json.dumps(e) for e in events[-15:])
                raise AssertionError(f"no audit {what} within {timeout}s; last events:\n{tail}")
            time.sleep(0.1)


def find_in_tree(root: pathlib.Path, needles: list[bytes]) -> list[tuple[str, int]]:
    """(file, needle index) for every needle found in any file under root."""
    hits = []
    for p in sorted(pathlib.Path(root).rglob("*")):
        if not p.is_file():
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        for i, n in enumerate(needles):
            if n in data:
                hits.append((str(p), i))
    return hits


def snapshot_tree(root: pathlib.Path) -> dict:
    snap = {}
    for p in sorted(pathlib.Path(root).rglob("*")):
        st = p.lstat()
        entry = (oct(st.st_mode),)
        if p.is_file():
            entry += (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        snap[str(p.relative_to(root))] = entry
    return snap


def push_examples(inst: Installation, names=None):
    for name, file, fmt in EXAMPLE_MODELS:
        if names is None or name in names:
            inst.push_ok(name, "1", EXAMPLES / file, fmt)


def start_installation(root: pathlib.Path, models=True, config: dict | None = None,
                       serve_args: tuple = ()) -> Installation:
    """init + (optional aegis.toml edits) + serve (with `serve_args`) + push; the caller stops it."""
    inst = Installation(root)
    inst.init()
    for (section, key), value in (config or {}).items():
        inst.set_config(section, key, value)
    inst.start(extra_args=serve_args)
    try:
        if models:
            push_examples(inst, None if models is True else models)
            inst.wait_ready(60)
    except BaseException:
        inst.kill()
        raise
    return inst


def stop_and_check(inst: Installation):
    if inst.proc is None or inst.proc.poll() is not None:
        if inst.proc is not None and inst.proc.returncode != 0:
            pytest.fail(f"aegis serve had already exited with {inst.proc.returncode}\n{inst.log_tail()}")
        return
    rc = inst.stop(signal.SIGTERM)
    assert rc == 0, f"aegis serve exited with {rc} after SIGTERM (expected 0)\n{inst.log_tail()}"


# --------------------------------------------------------------------------- raw TLS


def first_cert_der(pem_path) -> bytes:
    """DER of the first certificate in a PEM file (server.crt may carry the chain after it)."""
    text = pathlib.Path(pem_path).read_text()
    m = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    assert m, f"no certificate in {pem_path}"
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def tls_context(ca: str | None, verify: bool = True) -> ssl.SSLContext:
    if verify:
        return ssl.create_default_context(cafile=ca)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_connect(port: int, ca: str, timeout: float = 10) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return tls_context(ca).wrap_socket(sock, server_hostname="127.0.0.1")


class RawResponse:
    def __init__(self, status: int, reason: str, headers: dict, body: bytes, head: bytes):
        self.status_code = status
        self.reason = reason
        self.headers = headers  # lower-case names
        self.content = body
        self.head = head

    @property
    def text(self):
        return self.content.decode(errors="replace")

    def json(self):
        return json.loads(self.content)

    def __repr__(self):
        return f"<RawResponse {self.status_code} {self.reason} {self.content[:200]!r}>"


def send_all_tolerant(sock, data: bytes, chunk: int = 16384) -> bool:
    """Sends `data`; returns False (instead of raising) if the peer stopped reading/closed."""
    try:
        for i in range(0, len(data), chunk):
            sock.sendall(data[i:i + chunk])
        return True
    except (OSError, ssl.SSLError):
        return False


class ResponseReader:
    """Reads consecutive HTTP/1.1 responses from one socket, keeping the bytes that arrive after
    a response for the next one (pipelined responses often share a TLS record)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self, deadline: float) -> bool:
        if time.monotonic() > deadline:
            return False
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError, OSError, ssl.SSLError):
            return False
        self.buf += chunk
        return bool(chunk)

    def next(self, timeout: float = 10) -> RawResponse | None:
        """The next response; None if the connection ends (or times out) before a whole one."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._more(deadline):
                return None
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            return None
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.buf = rest
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n and self._more(deadline):
                pass
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._more(deadline):
                        return RawResponse(status, reason, headers, body, head)
                size_line, _, after = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    while b"\r\n" not in after and self._more(deadline):
                        after = self.buf.partition(b"\r\n")[2]
                    self.buf = after.partition(b"\r\n")[2]  # the empty trailer line
                    break
                while len(after) < size + 2 and self._more(deadline):
                    after = self.buf.partition(b"\r\n")[2]
                body += after[:size]
                self.buf = after[size + 2:]
        else:
            # No length (the server always sends one): take what has arrived.
            body, self.buf = self.buf, b""
        return RawResponse(status, reason, headers, body, head)


def read_response(sock, timeout: float = 10) -> RawResponse | None:
    """Reads one HTTP/1.1 response; None if the connection ends (or times out) before a status line.
    Bytes after it are dropped: use ResponseReader to read several from one connection."""
    return ResponseReader(sock).next(timeout)


def raw_request(port: int, ca: str, data: bytes, timeout: float = 10) -> RawResponse | None:
    """Sends raw bytes over a verified TLS connection; returns the parsed response or None."""
    with tls_connect(port, ca, timeout) as s:
        send_all_tolerant(s, data)
        return read_response(s, timeout)


def http_request_bytes(method: str, target: str, headers: dict | None = None, body: bytes = b"",
                       content_length: bool = True) -> bytes:
    h = {"Host": "127.0.0.1"}
    if headers:
        h.update(headers)
    if content_length and body is not None and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode("latin-1") + (body or b"")


# --------------------------------------------------------------------------- tensors


def tensor_json(name: str, array, datatype: str | None = None, nested: bool = False) -> dict:
    array = np.asarray(array)
    if datatype is None:
        datatype = {np.float32: "FP32", np.float64: "FP64", np.int64: "INT64", np.int32: "INT32",
                    np.bool_: "BOOL", np.uint8: "UINT8", np.int8: "INT8", np.int16: "INT16",
                    np.float16: "FP16"}[array.dtype.type]
    data = array.tolist() if nested else array.reshape(-1).tolist()
    if datatype == "FP16":
        data = (array.astype(np.float32).tolist() if nested else array.astype(np.float32).reshape(-1).tolist())
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def output_array(output: dict) -> np.ndarray:
    """A response output's data as a numpy array of its datatype and shape."""
    dtype = NP_DTYPES[output["datatype"]]
    data = np.array(output["data"], dtype=np.float64 if dtype in (np.float16, np.float32) else None)
    return data.reshape(-1).astype(dtype).reshape(output["shape"])


def binary_request(request: dict, blobs: list[bytes]) -> tuple[bytes, dict]:
    """Body and headers for a binary-tensor-data request: JSON header, then the blobs."""
    head = json.dumps(request).encode()
    body = head + b"".join(blobs)
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}
    return body, headers


def parse_binary_response(headers, content: bytes) -> tuple[dict, dict[str, bytes]]:
    """(JSON header, {output name: raw bytes}) of a binary-tensor-data response."""
    n = int(headers["Inference-Header-Content-Length"])
    header = json.loads(content[:n])
    offset = n
    blobs = {}
    for out in header["outputs"]:
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            blobs[out["name"]] = content[offset:offset + size]
            offset += size
    assert offset == len(content), f"binary sections cover {offset - n} bytes, body has {len(content) - n} after JSON"
    return header, blobs


# --------------------------------------------------------------------------- expectations


_torch_models = {}
_xgb_models = {}


def torch_forward(model_file: str, array: np.ndarray) -> np.ndarray:
    import torch
    torch.set_num_threads(1)
    path = str(EXAMPLES / model_file)
    if path not in _torch_models:
        _torch_models[path] = torch.jit.load(path).eval()
    with torch.no_grad():
        return _torch_models[path](torch.from_numpy(np.ascontiguousarray(array))).numpy()


def xgb_predict(model_file: str, array: np.ndarray) -> np.ndarray:
    import xgboost
    path = str(EXAMPLES / model_file)
    if path not in _xgb_models:
        b = xgboost.Booster()
        b.load_model(path)
        _xgb_models[path] = b
    return np.asarray(_xgb_models[path].inplace_predict(np.asarray(array, dtype=np.float32)), dtype=np.float32)


def expected_output(model: str, array: np.ndarray) -> np.ndarray:
    """The engine's own result (Python torch / xgboost) for the shared server's model names."""
    if model in ("mlp_torch", "mlp_onnx"):  # mlp.onnx is exported from the same weights as mlp.pt
        return torch_forward("mlp.pt", array.astype(np.float32))
    if model in ("xgb", "xgb_ubj"):
        return xgb_predict("xgb_classifier.json", array)
    raise KeyError(model)


def reference() -> dict:
    return json.loads((EXAMPLES / "reference.json").read_text())


def reference_case(model: str) -> tuple[np.ndarray, np.ndarray]:
    """(input array, expected output array) from examples/reference.json for a shared model name."""
    key = {"mlp_torch": "mlp", "mlp_onnx": "mlp", "xgb": "xgb_classifier", "xgb_ubj": "xgb_classifier"}[model]
    case = reference()[key]
    x = case["inputs"][0]
    y = case["outputs"][0]
    return (np.array(x["data"], dtype=np.float32).reshape(x["shape"]),
            np.array(y["data"], dtype=np.float32).reshape(y["shape"]))


def infer_body(array: np.ndarray, name: str = "input", **extra) -> dict:
    body = {"inputs": [tensor_json(name, np.asarray(array, dtype=np.float32))]}
    body.update(extra)
    return body


def check_json_error(r, status: int, context: str = ""):
    """Asserts the status and the {"error": "..."} body."""
    where = f"{context}\n" if context else ""
    assert r.status_code == status, f"{where}expected {status}, got {r.status_code}: {r.text[:500]!r}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"{where}{status} response body is not JSON: {r.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], \
        f"{where}{status} body must be {{\"error\": \"...\"}}, got {body!r}"
    return body


class Background(threading.Thread):
    """Runs fn() in a thread and keeps its result or exception."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
