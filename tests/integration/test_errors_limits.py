"""Bad input gets a precise error, limits hold, and nothing a client sends crashes the server.

The shared server runs with default limits; a second installation (`limited`) changes them in
aegis.toml: read_timeout_seconds=2, max_body_bytes=65536, max_model_bytes=1 MiB,
max_connections=8, and max_header_bytes at its ceiling (48 KiB).
"""

import base64
import json
import os
import re
import socket
import ssl
import time

import pytest

import oms
from aegis_testlib import (EXAMPLES, ResponseReader, check_json_error, http_request_bytes, output_array, raw_request,
                           read_response, send_all_tolerant, start_installation, stop_and_check, tls_connect)

GOOD = {"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]}


def inp(**over):
    t = dict(GOOD)
    t.update(over)
    return {"inputs": [t]}


def deep(n):
    return ("[" * n + "1" + "]" * n)


# (id, model, body (dict -> JSON, bytes raw), status)
BAD_INFER = [
    ("malformed json", "mlp_torch", b"{\"inputs\": [", 400),
    ("not json at all", "mlp_torch", b"hello", 400),
    ("empty body", "mlp_torch", b"", 400),
    ("json array body", "mlp_torch", b"[1,2,3]", 400),
    ("trailing garbage", "mlp_torch", json.dumps(inp()).encode() + b" xyz", 400),
    ("invalid utf-8", "mlp_torch", b'{"inputs":[{"name":"\xff\xfe","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}', 400),
    ("no inputs key", "mlp_torch", {}, 400),
    ("inputs not a list", "mlp_torch", {"inputs": {"name": "input"}}, 400),
    ("missing input", "mlp_torch", {"inputs": []}, 400),
    ("unknown input name", "mlp_torch", inp(name="bogus"), 400),
    ("unknown input name onnx", "mlp_onnx", inp(name="bogus"), 400),
    ("unknown input name xgb", "xgb", inp(name="bogus"), 400),
    ("duplicate input", "mlp_onnx", {"inputs": [GOOD, GOOD]}, 400),
    ("missing datatype", "mlp_torch", {"inputs": [{k: v for k, v in GOOD.items() if k != "datatype"}]}, 400),
    ("missing shape", "mlp_torch", {"inputs": [{k: v for k, v in GOOD.items() if k != "shape"}]}, 400),
    ("missing data", "mlp_torch", {"inputs": [{k: v for k, v in GOOD.items() if k != "data"}]}, 400),
    ("unknown datatype", "mlp_torch", inp(datatype="FP8"), 400),
    ("shape/data count: fewer", "mlp_torch", inp(data=[1.0, 2.0, 3.0]), 400),
    ("shape/data count: more", "mlp_torch", inp(data=[1.0, 2.0, 3.0, 4.0, 5.0]), 400),
    ("ragged nesting vs shape", "mlp_torch", inp(shape=[1, 4], data=[[1.0, 2.0, 3.0], [4.0]]), 400),
    ("nesting deeper than shape", "mlp_torch", inp(shape=[1, 4], data=[[[1.0], [2.0], [3.0], [4.0]]]), 400),
    ("negative dimension", "mlp_torch", inp(shape=[-1, 4]), 400),
    ("shape not a list", "mlp_torch", inp(shape="1,4"), 400),
    ("fractional dimension", "mlp_torch", inp(shape=[1.5, 4]), 400),
    ("huge shape, few values", "mlp_torch", inp(shape=[2 ** 31, 2 ** 31]), 400),
    ("overflowing shape", "mlp_torch", inp(shape=[2 ** 62, 2 ** 62, 16]), 400),
    ("string in FP32 data", "mlp_torch", inp(data=[1.0, "two", 3.0, 4.0]), 400),
    ("null in FP32 data", "mlp_torch", inp(data=[1.0, None, 3.0, 4.0]), 400),
    ("object in data", "mlp_torch", inp(data=[1.0, {"a": 1}, 3.0, 4.0]), 400),
    ("wrong datatype FP64 to onnx", "mlp_onnx", inp(datatype="FP64"), 400),
    ("wrong datatype INT32 to onnx", "mlp_onnx", inp(datatype="INT32", data=[1, 2, 3, 4]), 400),
    ("wrong datatype FP64 to xgb", "xgb", inp(datatype="FP64"), 400),
    ("wrong feature count onnx", "mlp_onnx", inp(shape=[1, 5], data=[1.0] * 5), 400),
    ("wrong feature count xgb", "xgb", inp(shape=[1, 5], data=[1.0] * 5), 400),
    ("wrong rank onnx", "mlp_onnx", inp(shape=[4]), 400),
    ("wrong feature count torchscript", "mlp_torch", inp(shape=[1, 5], data=[1.0] * 5), 400),
    ("300 as UINT8", "echo", inp(datatype="UINT8", data=[300, 1, 2, 3]), 400),
    ("-1 as UINT8", "echo", inp(datatype="UINT8", data=[-1, 1, 2, 3]), 400),
    ("128 as INT8", "echo", inp(datatype="INT8", data=[128, 1, 2, 3]), 400),
    ("1.5 as INT32", "echo", inp(datatype="INT32", data=[1.5, 1, 2, 3]), 400),
    ("2**63 as INT64", "echo", inp(datatype="INT64", data=[2 ** 63, 1, 2, 3]), 400),
    ("2 as BOOL", "echo", inp(datatype="BOOL", data=[2, 1, 0, 1]), 400),
    ("1e39 as FP32", "mlp_torch", inp(data=[1e39, 1.0, 2.0, 3.0]), 400),
    ("unknown requested output", "mlp_torch", dict(inp(), outputs=[{"name": "nope"}]), 400),
    ("deeply nested data", "mlp_torch", ('{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":'
                                         + deep(100000) + '}]}').encode(), 400),
    ("deeply nested json", "mlp_torch", ('{"inputs":' + deep(100000) + '}').encode(), 400),
]


@pytest.fixture(scope="module")
def echo_name(server):
    r = server.get("/v2/models/echo")
    assert r.status_code == 200, r.text
    return (r.json().get("inputs") or [{"name": "x"}])[0]["name"]


@pytest.mark.parametrize("label,model,body,status", BAD_INFER, ids=[b[0] for b in BAD_INFER])
def test_bad_infer_request(server, echo_name, label, model, body, status):
    if isinstance(body, dict) and model == "echo":
        body = json.loads(json.dumps(body).replace('"name": "input"', f'"name": {json.dumps(echo_name)}'))
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    r = server.post(f"/v2/models/{model}/infer", data=data, headers={"Content-Type": "application/json"})
    check_json_error(r, status, f"{label}: POST /v2/models/{model}/infer {data[:200]!r}")


NOT_FOUND = [
    ("unknown model metadata", False, "GET", "/v2/models/nope"),
    ("unknown model ready", False, "GET", "/v2/models/nope/ready"),
    ("unknown model infer", False, "POST", "/v2/models/nope/infer"),
    ("unknown version metadata", False, "GET", "/v2/models/mlp_torch/versions/99"),
    ("unknown version ready", False, "GET", "/v2/models/mlp_torch/versions/99/ready"),
    ("unknown version infer", False, "POST", "/v2/models/mlp_torch/versions/99/infer"),
    ("unknown route", False, "GET", "/v2/unknown"),
    ("root", False, "GET", "/"),
    ("v3", False, "GET", "/v3"),
    ("/v1 on the data plane", False, "GET", "/v1/models"),
    ("/v1 push on the data plane", False, "PUT", "/v1/models/x/versions/1?format=onnx"),
    ("/v2 infer on the control plane", True, "POST", "/v2/models/mlp_torch/infer"),
    ("/v2 metadata on the control plane", True, "GET", "/v2/models/mlp_torch"),
    ("unknown admin route", True, "GET", "/v1/nothing"),
]


@pytest.mark.parametrize("label,admin,method,path", NOT_FOUND, ids=[n[0] for n in NOT_FOUND])
def test_not_found(server, label, admin, method, path):
    data = json.dumps(inp()).encode() if method in ("POST", "PUT") else None
    r = server._request(method, path, admin, True, data=data)
    check_json_error(r, 404, f"{label}: {method} {path}")


DOTDOT = [
    (False, "GET", "/v2/models/../v2"),
    (False, "GET", "/v2/models/%2e%2e/v2"),
    (False, "GET", "/v2/models/%2E%2E/v2"),
    (False, "GET", "/v2/models/mlp_torch/versions/..%2f..%2fv2"),
    (False, "POST", "/v2/models/../models/mlp_torch/infer"),
    (False, "GET", "/v2/models/..%2F..%2F..%2Fetc%2Fpasswd"),
    (True, "GET", "/v1/models/../models"),
    (True, "PUT", "/v1/models/%2e%2e/versions/1?format=onnx"),
    (True, "PUT", "/v1/models/x/versions/..?format=onnx"),
    (True, "DELETE", "/v1/models/../../x/versions/1"),
]


@pytest.mark.parametrize("admin,method,target", DOTDOT, ids=[f"{'admin' if d[0] else 'data'} {d[1]} {d[2]}" for d in DOTDOT])
def test_dotdot_target_is_400(server, admin, method, target):
    body = json.dumps(inp()).encode() if method in ("POST", "PUT") else b""
    raw = http_request_bytes(method, target, {**server.auth, "Connection": "close"}, body)
    port = server.admin_port if admin else server.data_port
    r = raw_request(port, server.ca, raw)
    assert r is not None, f"{method} {target}: no HTTP response"
    check_json_error(r, 400, f"{method} {target}")


def test_header_just_under_limit_is_fine(server):
    r = server.get("/v2", headers={"X-Padding": "a" * 8000})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("shape", ["one big header", "many headers"])
def test_oversized_headers(server, shape):
    if shape == "one big header":
        extra = {"X-Big": "a" * 20000}
    else:
        extra = {f"X-H{i}": "b" * 200 for i in range(150)}
    raw = http_request_bytes("GET", "/v2", {**server.auth, **extra})
    r = raw_request(server.data_port, server.ca, raw)
    assert r is not None, "no response to headers over max_header_bytes (expected 431)"
    check_json_error(r, 431, f"{shape} over max_header_bytes")
    assert server.alive(), f"server died after {shape!r}\n{server.log_tail()}"
    assert server.get("/v2/health/live").status_code == 200


def test_overlong_request_line(server):
    """The request line counts against max_header_bytes (16 KiB): a 30 kB target is a 431, and the
    server keeps serving."""
    raw = http_request_bytes("GET", "/v2/models/" + "a" * 30000, server.auth)
    r = raw_request(server.data_port, server.ca, raw)
    assert r is not None, "no response to a 30 kB request target (expected 431)"
    check_json_error(r, 431, "30 kB request target")
    assert server.alive(), f"server died after a 30 kB request target\n{server.log_tail()}"
    assert server.get("/v2/health/live").status_code == 200


# (label, raw request, status on the data plane, status on the control plane). The parser's
# refusals are 400 on both planes; what it lets through meets authentication on the data plane
# (401: no bearer token) and the route table on the control plane (404).
GARBAGE = [
    ("binary noise", b"\x00\xff\x13\x37" * 4000, 400, 400),
    # HTTP/1.1 makes Host mandatory and unique (RFC 9112 §3.2: a server MUST answer 400).
    ("no host", b"GET /v2/health/live HTTP/1.1\r\n\r\n", 400, 400),
    ("two hosts", b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 400),
    ("http/1.0 without host", b"GET /v2/health/live HTTP/1.0\r\n\r\n", 200, 404),
    ("negative content-length", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, 400),
    ("enormous content-length", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, 400),
    ("two content-lengths", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 10\r\n\r\nabcd", 400, 400),
    # Content-Length with Transfer-Encoding is the request-smuggling shape (RFC 9112 §6.1).
    ("cl and te", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 400),
    ("bad chunk size", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 401, 404),
    ("huge chunk size", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n", 401, 404),
    ("http/0.9", b"GET /\r\n", 400, 400),
    ("http/9.9", b"GET /v2 HTTP/9.9\r\nHost: x\r\n\r\n", 400, 400),
    ("unknown method", b"BREW /v2 HTTP/1.1\r\nHost: x\r\n\r\n", 401, 404),
    ("header without colon", b"GET /v2 HTTP/1.1\r\nHost x\r\n\r\n", 400, 400),
    ("bare LF", b"GET /v2 HTTP/1.1\nHost: x\n\n", 400, 400),
    ("nul in target", b"GET /v2\x00/models HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400),
    ("non-ascii target", "GET /v2/models/\u00e9\u00e8 HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 401, 404),
    ("huge bearer", b"GET /v2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"A" * 12000 + b"\r\n\r\n", 401, 404),
    # Refused rather than unfolded (RFC 9112 §5.2): a proxy may read the folded line as a header.
    ("obs-fold header", b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, 400),
    ("absolute-form target", b"GET https://evil.example/v2 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400),
    ("asterisk target", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400),
    ("connect", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400),
    ("expect 100", b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", 401, 404),
]


@pytest.mark.parametrize("label,payload,data_status,admin_status", GARBAGE, ids=[g[0] for g in GARBAGE])
@pytest.mark.parametrize("plane", ["data", "admin"])
def test_garbage_gets_its_exact_status(server, label, payload, data_status, admin_status, plane):
    port = server.data_port if plane == "data" else server.admin_port
    with tls_connect(port, server.ca, timeout=5) as s:
        send_all_tolerant(s, payload)
        r = read_response(s, timeout=5)
    status = data_status if plane == "data" else admin_status
    assert r is not None, f"{label}: no response on the {plane} plane (expected {status})"
    if status == 200:
        assert r.status_code == 200, f"{label} -> {r!r}"
    else:
        check_json_error(r, status, f"{label} on the {plane} plane")
    assert server.alive(), f"server died after {label!r}\n{server.log_tail()}"


def test_pipelined_requests_answered_in_order(server, echo_name):
    """50 requests sent back to back on one connection get 50 responses, each the answer to its
    own request, in the order sent, although inference runs on a worker pool."""
    requests_, expected = [], []
    for i in range(50):
        if i % 5 == 4:
            requests_.append(http_request_bytes("GET", f"/v2/models/nope{i}", server.auth))
            expected.append((404, f"unknown model 'nope{i}'"))
        else:
            body = json.dumps({"inputs": [{"name": echo_name, "datatype": "FP32", "shape": [1], "data": [float(i)]}]})
            requests_.append(http_request_bytes("POST", "/v2/models/echo/infer",
                                                {**server.auth, "Content-Type": "application/json"}, body.encode()))
            expected.append((200, [float(i)]))
    with tls_connect(server.data_port, server.ca) as s:
        s.sendall(b"".join(requests_))
        reader = ResponseReader(s)
        for i, (status, answer) in enumerate(expected):
            r = reader.next(timeout=10)
            assert r is not None, f"response {i} of 50 missing"
            assert r.status_code == status, f"response {i}: {r!r}"
            if status == 200:
                assert r.json()["outputs"][0]["data"] == answer, f"response {i} answers another request: {r!r}"
            else:
                assert r.json()["error"] == answer, f"response {i} answers another request: {r!r}"
        assert reader.next(timeout=0.5) is None, "more responses than requests"


def test_tls_level_abuse(server):
    for port in (server.data_port, server.admin_port):
        # Random bytes instead of a ClientHello.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(os.urandom(5000))
            try:
                s.recv(100)
            except OSError:
                pass
        # Connect and drop, many times.
        for _ in range(50):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        # A truncated ClientHello, then close.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
        # Handshake done, then close without a request.
        for _ in range(10):
            tls_connect(port, server.ca).close()
    assert server.alive()
    assert server.get("/v2/health/live").status_code == 200


def test_bodies_between_requests_keep_alive(server):
    """A 400 on a kept-alive connection does not poison the next request on it."""
    s = server.session()
    try:
        r = s.post(server.url("/v2/models/mlp_torch/infer"), data=b"{", timeout=10)
        assert r.status_code == 400, r.text
        r = s.post(server.url("/v2/models/mlp_torch/infer"), json=inp(), timeout=10)
        assert r.status_code == 200, r.text
    finally:
        s.close()


# --------------------------------------------------------------------------- limits

MAX_BODY = 65536
MAX_MODEL = 1048576
READ_TIMEOUT = 2
MAX_CONN = 8
MAX_HEADER = 49152  # the ceiling aegis.toml accepts


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("aegis-limited"), models=["mlp_torch"], config={
        ("limits", "read_timeout_seconds"): READ_TIMEOUT,
        ("limits", "max_body_bytes"): MAX_BODY,
        ("limits", "max_model_bytes"): MAX_MODEL,
        ("limits", "max_connections"): MAX_CONN,
        ("limits", "max_header_bytes"): MAX_HEADER,
    })
    yield inst
    stop_and_check(inst)


def padded_infer(total: int) -> bytes:
    body = json.dumps(inp()).encode()
    assert len(body) < total
    return body[:-1] + b" " * (total - len(body)) + b"}"


def test_body_at_limit_accepted(limited):
    body = padded_infer(MAX_BODY)
    assert len(body) == MAX_BODY
    r = limited.post("/v2/models/mlp_torch/infer", data=body)
    assert r.status_code == 200, f"a body of exactly max_body_bytes -> {r.status_code} {r.text[:300]}"


def test_body_over_limit_413(limited):
    body = padded_infer(MAX_BODY + 1)
    raw = http_request_bytes("POST", "/v2/models/mlp_torch/infer", {**limited.auth, "Content-Type": "application/json"}, body)
    r = raw_request(limited.data_port, limited.ca, raw)
    assert r is not None, "no response to a body over max_body_bytes (expected 413)"
    check_json_error(r, 413, "body of max_body_bytes + 1")


def test_declared_length_over_limit_413_without_body(limited):
    raw = http_request_bytes("POST", "/v2/models/mlp_torch/infer", {**limited.auth, "Content-Length": str(10 ** 9)},
                             b"")
    t0 = time.monotonic()
    r = raw_request(limited.data_port, limited.ca, raw, timeout=READ_TIMEOUT + 5)
    assert r is not None, "no response to Content-Length: 1e9 (expected 413)"
    check_json_error(r, 413, "Content-Length: 1000000000")
    assert time.monotonic() - t0 < READ_TIMEOUT + 1, "413 only after waiting for the body"


def test_chunked_body_over_limit_413(limited):
    chunk = b"a" * 8192
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(MAX_BODY // len(chunk) + 2)) + b"0\r\n\r\n"
    raw = http_request_bytes("POST", "/v2/models/mlp_torch/infer",
                             {**limited.auth, "Transfer-Encoding": "chunked"}, body)
    r = raw_request(limited.data_port, limited.ca, raw)
    assert r is not None, "no response to a chunked body over max_body_bytes"
    check_json_error(r, 413, "chunked body over max_body_bytes")


def rss_kib(pid: int) -> int:
    return int(re.search(r"^VmRSS:\s+(\d+) kB", open(f"/proc/{pid}/status").read(), flags=re.M).group(1))


def chunked_infer(limited, trailer: bytes) -> bytes:
    body = json.dumps(inp()).encode()
    return http_request_bytes("POST", "/v2/models/mlp_torch/infer",
                              {**limited.auth, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                              b"%x\r\n" % len(body) + body + b"\r\n0\r\n" + trailer + b"\r\n")


def test_a_short_trailer_is_read_and_the_request_served(limited):
    plain = limited.post("/v2/models/mlp_torch/infer", json=inp())
    assert plain.status_code == 200, plain.text
    r = raw_request(limited.data_port, limited.ca, chunked_infer(limited, b"X-Checksum: abc\r\n"))
    assert r is not None and r.status_code == 200, r and r.content[:300]
    assert json.loads(r.content)["outputs"] == plain.json()["outputs"]


@pytest.mark.parametrize("shape", ["many fields", "one 70 kB field"])
def test_a_trailer_is_held_to_the_header_limit(limited, shape):
    """A chunked body's trailer section is buffered whole before Beast parses it: it is held to
    max_header_bytes (431), never grows the server's memory with what the client sends, and a
    field Beast cannot store (64 KiB and more) never reaches it."""
    if shape == "many fields":
        trailer = b"".join(b"X-T%d: " % i + b"a" * 1000 + b"\r\n" for i in range(16000))  # 16 MB
    else:
        trailer = b"X-T: " + b"a" * 70000 + b"\r\n"
    before = rss_kib(limited.proc.pid)
    with tls_connect(limited.data_port, limited.ca) as s:
        send_all_tolerant(s, chunked_infer(limited, trailer))
        r = read_response(s)
    assert r is not None, f"no response to a trailer of {shape} (expected 431)"
    check_json_error(r, 431, f"trailer of {shape}")
    assert json.loads(r.content)["error"] == "request trailer too large"
    assert limited.alive(), f"server died after a trailer of {shape}\n{limited.log_tail()}"
    grown = rss_kib(limited.proc.pid) - before
    assert grown < 8 * 1024, f"RSS grew by {grown} KiB while a {len(trailer)}-byte trailer arrived"


def test_header_fields_up_to_the_ceiling(limited):
    """max_header_bytes at its ceiling: a field just under it is served, one over it is a 431, and
    neither takes the server down."""
    ok = limited.get("/v2", headers={"X-Padding": "a" * (MAX_HEADER - 2000)})
    assert ok.status_code == 200, ok.text
    for size in (MAX_HEADER + 1, 70000):
        raw = http_request_bytes("GET", "/v2", {**limited.auth, "X-Big": "a" * size})
        r = raw_request(limited.data_port, limited.ca, raw)
        assert r is not None, f"no response to a {size}-byte header field (expected 431)"
        check_json_error(r, 431, f"{size}-byte header field")
    assert limited.alive(), limited.log_tail()


def test_model_over_limit_413(limited):
    blob = os.urandom(MAX_MODEL + 1)
    limited.trust_publisher()  # a validly signed push, so the size limit is what refuses it
    bundle = base64.b64encode(oms.sign_bytes(blob, limited.publisher)).decode()
    raw = http_request_bytes("PUT", "/v1/models/too_big/versions/1?format=onnx",
                             {**limited.auth, "Content-Type": "application/octet-stream",
                              "Aegis-Signature-Bundle": bundle}, blob)
    r = raw_request(limited.admin_port, limited.ca, raw, timeout=15)
    assert r is not None, "no response to a model over max_model_bytes"
    check_json_error(r, 413, "model of max_model_bytes + 1")
    r = limited.get("/v1/models", admin=True)
    assert not any(m["name"] == "too_big" for m in r.json()["models"]), r.text


def test_model_at_limit_is_not_413(limited):
    r = limited.push("at_limit", "1", os.urandom(MAX_MODEL), "onnx")
    assert r.status_code == 422, f"random bytes of exactly max_model_bytes as onnx -> {r.status_code} {r.text[:300]}"


def _drip_until_closed(s, pieces, t0):
    """Sends one piece a second until the server closes the connection (or the
    pieces or READ_TIMEOUT + 8 s run out). Returns (closed_at or None, bytes received)."""
    s.settimeout(0.05)
    got = b""
    for piece in pieces:
        if time.monotonic() - t0 > READ_TIMEOUT + 8:
            break
        try:
            s.send(piece)
        except (OSError, ssl.SSLError):
            return time.monotonic(), got
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                data = s.recv(4096)
                if not data:
                    return time.monotonic(), got
                got += data  # a 408 is an acceptable way to say goodbye; the connection must still close
            except (socket.timeout, TimeoutError):
                pass
            except (OSError, ssl.SSLError):
                return time.monotonic(), got
    return None, got


def test_slow_loris_headers(limited):
    s = tls_connect(limited.data_port, limited.ca, timeout=READ_TIMEOUT + 10)
    t0 = time.monotonic()
    s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    closed_at, _ = _drip_until_closed(s, (b"a" for _ in range(READ_TIMEOUT + 10)), t0)
    s.close()
    assert closed_at is not None, f"a header byte per second kept the connection open {READ_TIMEOUT + 8}s"
    took = closed_at - t0
    assert took <= READ_TIMEOUT + 2, f"slow-loris disconnected after {took:.1f}s; read_timeout_seconds={READ_TIMEOUT}"


def test_slow_body(limited):
    body = json.dumps(inp()).encode()
    s = tls_connect(limited.data_port, limited.ca, timeout=READ_TIMEOUT + 10)
    t0 = time.monotonic()
    s.sendall(http_request_bytes("POST", "/v2/models/mlp_torch/infer", limited.auth, b"")
              .replace(b"Content-Length: 0", b"Content-Length: %d" % len(body)))
    closed_at, got = _drip_until_closed(s, (body[i:i + 1] for i in range(len(body))), t0)
    s.close()
    assert closed_at is not None, f"a body byte per second kept the connection open; got {got[:100]!r}"
    assert closed_at - t0 <= READ_TIMEOUT + 2, f"slow body disconnected after {closed_at - t0:.1f}s"
    assert b"HTTP/1.1 200" not in got, "the slow request was served"


def _hold(port, ca):
    s = tls_connect(port, ca, timeout=5)
    s.sendall(http_request_bytes("GET", "/v2/health/live"))
    r = read_response(s, timeout=5)
    assert r is not None and r.status_code == 200, r
    return s


def _extra_connection_outcome(port, ca) -> str:
    try:
        s = tls_connect(port, ca, timeout=3)
    except (OSError, ssl.SSLError) as e:
        return f"refused ({type(e).__name__})"
    try:
        send_all_tolerant(s, http_request_bytes("GET", "/v2/health/live"))
        r = read_response(s, timeout=3)
        return "closed" if r is None else f"HTTP {r.status_code}"
    finally:
        s.close()


def _hold_in_request(port, ca):
    s = tls_connect(port, ca, timeout=5)
    s.sendall(b"GET /v2/health/live HTTP/1.1\r\n")  # the head is not finished: a request in progress
    return s


def test_max_connections(limited):
    """At max_connections a new connection displaces the oldest idle one; only when every
    connection is in a request are new ones refused (docs/limits.md)."""
    time.sleep(0.5)  # let earlier connections finish closing
    held = []
    try:
        for _ in range(MAX_CONN):
            held.append(_hold(limited.data_port, limited.ca))  # served once, now idle
        outcome = _extra_connection_outcome(limited.data_port, limited.ca)
        assert outcome == "HTTP 200", f"at max_connections with idle connections a new one got: {outcome}"
        assert read_response(held[0], timeout=2) is None, "the oldest idle connection was not the one displaced"
        held[1].sendall(http_request_bytes("GET", "/v2/health/live"))
        r = read_response(held[1], timeout=5)
        assert r is not None and r.status_code == 200, "a younger idle connection was displaced too"
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    held = []
    try:
        for _ in range(MAX_CONN):
            held.append(_hold_in_request(limited.data_port, limited.ca))
        time.sleep(0.2)
        outcomes = [_extra_connection_outcome(limited.data_port, limited.ca) for _ in range(3)]
        print(f"connections beyond max_connections, all in a request: {outcomes}")
        served = [o for o in outcomes if o == "HTTP 200"]
        assert not served, f"connections beyond max_connections={MAX_CONN} were served: {outcomes}"
        for o in outcomes:
            assert not (o.startswith("HTTP 5") and o != "HTTP 503"), outcomes
        # The requests in progress were not disturbed.
        held[0].sendall(b"Host: 127.0.0.1\r\n\r\n")
        r = read_response(held[0], timeout=5)
        assert r is not None and r.status_code == 200, "a connection in a request was closed"
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    while True:
        outcome = _extra_connection_outcome(limited.data_port, limited.ca)
        if outcome == "HTTP 200":
            break
        assert time.monotonic() < deadline, f"after closing the held connections new ones still fail: {outcome}"
        time.sleep(0.2)


# --------------------------------------------------------------------------- still alive


def test_zz_still_alive_after_everything(server, limited):
    for inst in (server, limited):
        assert inst.alive(), f"server process died\n{inst.log_tail()}"
        r = inst.get("/v2/health/live", token=False)
        assert r.status_code == 200, r.text
        r = inst.post("/v2/models/mlp_torch/infer", json=inp())
        assert r.status_code == 200, r.text
        assert output_array(r.json()["outputs"][0]).shape == (1, 3), r.text


IDLE_TIMEOUT = 2


def test_idle_keepalive_connection_closed(tmp_path):
    """[limits] idle_timeout_seconds: a kept-alive connection with no next request is closed."""
    inst = start_installation(tmp_path, models=False, config={("limits", "idle_timeout_seconds"): IDLE_TIMEOUT})
    try:
        s = tls_connect(inst.data_port, inst.ca, timeout=IDLE_TIMEOUT + 10)
        s.sendall(http_request_bytes("GET", "/v2/health/live"))
        r = read_response(s, timeout=5)
        assert r is not None and r.status_code == 200, r
        t0 = time.monotonic()
        s.settimeout(IDLE_TIMEOUT + 8)
        try:
            data = s.recv(100)
        except (socket.timeout, TimeoutError):
            data = None
        except (OSError, ssl.SSLError):
            data = b""
        took = time.monotonic() - t0
        s.close()
        assert data == b"", f"idle connection not closed within {IDLE_TIMEOUT + 8}s (got {data!r})"
        assert took <= IDLE_TIMEOUT + 2, f"idle connection closed after {took:.1f}s; idle_timeout_seconds={IDLE_TIMEOUT}"
    finally:
        stop_and_check(inst)


def test_engine_failure_is_a_500_with_json_and_the_server_stays_up(server):
    """A model that raises inside the engine: 500 with a generic JSON error (the
    engine's own words can name layers and weights: they go to the log with the
    request id), and the server keeps serving."""
    server.push_ok("failing", "1", EXAMPLES / "failing.pt", "torchscript")
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]}
    for _ in range(3):
        r = server.infer("failing", body)
        check_json_error(r, 500, "infer on failing.pt")
        assert r.json() == {"error": "inference failed"}, r.text
    deadline = time.monotonic() + 5
    while "deliberate failure inside the model" not in server.log_text():
        assert time.monotonic() < deadline, "the engine's message is not in the server log"
        time.sleep(0.1)
    assert server.get("/v2/health/live", token=False).status_code == 200
    assert server.infer("echo", body).status_code == 200
