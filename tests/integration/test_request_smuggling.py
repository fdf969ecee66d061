"""Request smuggling (desync): every head whose body framing could be read two ways is refused with
its exact status, the response says `Connection: close`, the server closes the connection, and the
request hidden behind it is never answered. Both listeners share the HTTP front end; both are
checked. Valid chunked and Content-Length framing keep the connection (and answer the request
pipelined after them), so the refusals are not just "close everything".
"""

import json
import socket
import ssl
import time

import pytest

from aegis_testlib import ResponseReader, check_json_error, send_all_tolerant, tls_connect

# Answered without credentials on the data plane (200) and 404 on the control plane: if it is ever
# answered, the server parsed it as a request of its own.
SMUGGLED = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
CHUNKED_END = b"0\r\n\r\n"

# (label, header fields after Host, body before the smuggled request, status)
CASES = [
    ("te xchunked", b"Transfer-Encoding: xchunked\r\n", b"", 400),
    ("te chunked, identity", b"Transfer-Encoding: chunked, identity\r\n", CHUNKED_END, 400),
    ("te identity", b"Transfer-Encoding: identity\r\n", b"", 400),
    ("te gzip", b"Transfer-Encoding: gzip\r\n", b"", 400),
    ("te empty", b"Transfer-Encoding:\r\n", b"", 400),
    ("te chunked, chunked", b"Transfer-Encoding: chunked, chunked\r\n", CHUNKED_END, 400),
    ("te quoted", b'Transfer-Encoding: "chunked"\r\n', b"", 400),
    ("te gzip, chunked", b"Transfer-Encoding: gzip, chunked\r\n", CHUNKED_END, 501),
    ("CL.TE", b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", CHUNKED_END, 400),
    ("TE.CL", b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n", 400),
    ("CL.TE xchunked", b"Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n", CHUNKED_END, 400),
    ("CL.TE space before colon", b"Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", CHUNKED_END, 400),
    ("CL.TE tab", b"Content-Length: 5\r\nTransfer-Encoding:\tchunked\r\n", CHUNKED_END, 400),
    ("CL.TE bare LF before", b"Content-Length: 5\r\nX: X\nTransfer-Encoding: chunked\r\n", CHUNKED_END, 400),
    ("CL.TE bare LF in name", b"Content-Length: 5\r\nTransfer-Encoding\n : chunked\r\n", CHUNKED_END, 400),
    ("obs-fold TE value", b"Transfer-Encoding:\r\n chunked\r\n", CHUNKED_END, 400),
    ("obs-fold hides TE", b"X: X\r\n Transfer-Encoding: chunked\r\n", CHUNKED_END, 400),
    ("TE.TE chunked then x", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", CHUNKED_END, 400),
    ("TE.TE x then chunked", b"Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n", CHUNKED_END, 400),
    ("two equal Content-Length", b"Content-Length: 0\r\nContent-Length: 0\r\n", b"", 400),
    ("Content-Length list", b"Content-Length: 0, 0\r\n", b"", 400),
    ("two Authorization", b"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n", b"", 400),
    ("two Content-Type", b"Content-Type: application/json\r\nContent-Type: application/json\r\n", b"", 400),
    ("two Inference-Header-Content-Length",
     b"Inference-Header-Content-Length: 0\r\nInference-Header-Content-Length: 0\r\n", b"", 400),
]


def port_of(server, plane):
    return server.data_port if plane == "data" else server.admin_port


def closed_by_server(sock, timeout=3.0) -> bool:
    """True once the server ends the connection (EOF, close_notify or reset) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(4096):
                return True
        except (socket.timeout, TimeoutError):
            return False
        except (OSError, ssl.SSLError):
            return True
    return False


@pytest.mark.parametrize("label,fields,body,status", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("plane", ["data", "admin"])
def test_ambiguous_framing_is_refused_and_closed(server, plane, label, fields, body, status):
    request = b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n" + body + SMUGGLED
    with tls_connect(port_of(server, plane), server.ca, timeout=5) as s:
        send_all_tolerant(s, request)
        reader = ResponseReader(s)
        r = reader.next(timeout=5)
        assert r is not None, f"{label}: no response on the {plane} plane (expected {status})"
        check_json_error(r, status, f"{label} on the {plane} plane")
        assert r.headers.get("connection", "").lower() == "close", f"{label}: {r.head!r}"
        smuggled = reader.next(timeout=1)
        assert smuggled is None, f"{label}: the smuggled request was answered on the {plane} plane: {smuggled!r}"
        assert closed_by_server(s), f"{label}: the {plane} plane kept the connection open"
    assert server.alive(), f"server died after {label!r}\n{server.log_tail()}"


def test_te_in_http10_is_refused(server):
    request = (b"POST /v2/models/mlp_torch/infer HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_END +
               SMUGGLED)
    with tls_connect(server.data_port, server.ca, timeout=5) as s:
        send_all_tolerant(s, request)
        reader = ResponseReader(s)
        r = reader.next(timeout=5)
        assert r is not None and r.head.startswith(b"HTTP/1.0 400 "), r
        assert reader.next(timeout=1) is None
        assert closed_by_server(s)


def test_unambiguous_framing_keeps_the_connection(server):
    """Chunked (with the tab and letter case RFC 9110 allows) and Content-Length bodies are served and
    the request pipelined after each is answered too."""
    body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4],
                                   "data": [1.0, 2.0, 3.0, 4.0]}]}).encode()
    chunked = b"%x\r\n%s\r\n" % (len(body), body) + CHUNKED_END
    auth = f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n".encode()
    for fields, payload in [(b"Transfer-Encoding: chunked\r\n", chunked),
                            (b"Transfer-Encoding:\tChunked\r\n", chunked),
                            (b"Content-Length: %d\r\n" % len(body), body)]:
        request = (b"POST /v2/models/mlp_torch/infer HTTP/1.1\r\nHost: x\r\n" + auth + fields + b"\r\n" + payload +
                   SMUGGLED)
        with tls_connect(server.data_port, server.ca, timeout=5) as s:
            s.sendall(request)
            reader = ResponseReader(s)
            first = reader.next(timeout=10)
            assert first is not None and first.status_code == 200, (fields, first)
            assert first.json()["outputs"], first
            second = reader.next(timeout=5)
            assert second is not None and second.status_code == 200, (fields, second)
