"""Memory limits of the data plane (issue 13, item 3): the budget for request bodies held in
memory, in total and per principal, and the per-model cap on the encoded response.

One installation with small limits so the test is quick: bodies up to 4 MiB, 16 MiB for all
bodies together, each principal at most half of that (8 MiB), responses up to 1 MiB and 16 KiB
for the model "echo" ("plain" is the same model under the default). One principal opens 16
connections that each declare a body just under the limit and send all of it but the last byte,
which would hold 64 MiB or more without a budget. Only two fit; the rest get 503 with
Retry-After before their body is read, the server's resident memory stays near the budget, and
another principal's small inference still succeeds.
"""

import json
import time

import pytest

from aegis_testlib import (EXAMPLES, Installation, ResponseReader, check_json_error, http_request_bytes, push_examples,
                           read_response, send_all_tolerant, stop_and_check, tls_connect)
from identity_lib import create_token

MiB = 1 << 20
MAX_BODY = 4 * MiB
BUDGET = 16 * MiB
FLOOD = 16


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def input_name(inst, model: str) -> str:
    r = inst.get(f"/v2/models/{model}")
    assert r.status_code == 200, r.text
    return r.json()["inputs"][0]["name"]


def metric(inst, name: str, labels: str = "") -> float:
    r = inst.get("/metrics", admin=True)
    assert r.status_code == 200, r.text
    wanted = name + (("{" + labels + "}") if labels else "")
    for line in r.text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{wanted} not in /metrics")


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """One installation for both tests (a model push costs seconds): the small body budget, a
    1 MiB response limit, and 16 KiB for the echo model."""
    inst = Installation(tmp_path_factory.mktemp("aegis-memory"))
    inst.init()
    for key, value in {"max_body_bytes": MAX_BODY, "body_memory_bytes": BUDGET, "body_memory_principal_percent": 50,
                       "read_timeout_seconds": 20, "max_response_body_bytes": MiB}.items():
        inst.set_config("limits", key, value)
    with open(inst.config_path, "a") as f:
        f.write('\n[models."echo"]\nmax_response_body_bytes = 16384\n')
    inst.start()
    try:
        # The same model twice: "echo" with its own response limit, "plain" with the default.
        push_examples(inst, ["echo"])
        inst.push_ok("plain", "1", EXAMPLES / "echo.pt", "torchscript")
        inst.wait_ready(60)
    except BaseException:
        inst.kill()
        raise
    yield inst
    stop_and_check(inst)


def test_body_budget_bounds_memory_and_refuses_with_503(limited):
    inst = limited
    socks = []
    try:
        other = create_token(inst, "scorer", "consumer")["token"]
        assert "may hold 16 MiB in memory, 8 MiB per principal" in inst.log_text(), inst.log_tail()
        path = "/v2/models/plain/infer"
        small = json.dumps({"inputs": [{"name": input_name(inst, "plain"), "datatype": "FP32", "shape": [1, 4],
                                        "data": [1.0, 2.0, 3.0, 4.0]}]}).encode()
        pid = inst.proc.pid
        rss_before = rss_bytes(pid)

        # Every flood connection declares a body just under the limit; the heads go first.
        length = MAX_BODY - 1024
        head = http_request_bytes("POST", path, {"Authorization": f"Bearer {inst.token}",
                                                 "Content-Type": "application/json",
                                                 "Content-Length": str(length)}, b"")
        for _ in range(FLOOD):
            s = tls_connect(inst.data_port, inst.ca, timeout=10)
            s.sendall(head)
            socks.append(s)
        time.sleep(1.0)
        # A refusal has arrived by now; an admitted body is being waited for. (Readability alone
        # says nothing: TLS 1.3 session tickets arrive on every connection.)
        answers = [ResponseReader(s).next(0.05) for s in socks]
        held = [s for s, r in zip(socks, answers) if r is None]
        # The held ones send everything but the last byte: the server buffers it and waits.
        for s in held:
            s.settimeout(10)
            assert send_all_tolerant(s, b" " * (length - 1))
        for r in answers:
            if r is None:
                continue
            body = check_json_error(r, 503)
            assert r.headers.get("retry-after") == "1", r.headers
            assert "retry later" in body["error"], body
        assert len(held) == 2, f"{len(held)} of {FLOOD} bodies of {length} bytes admitted with 8 MiB per principal"
        time.sleep(1.0)
        rss_held = rss_bytes(pid)
        growth = rss_held - rss_before
        print(f"\nRSS before {rss_before / MiB:.1f} MiB, with {FLOOD} connections holding bodies "
              f"{rss_held / MiB:.1f} MiB (+{growth / MiB:.1f} MiB)")
        assert growth < 24 * MiB, f"RSS grew by {growth / MiB:.1f} MiB with a 16 MiB budget (8 MiB for this principal)"
        assert metric(inst, "aegis_body_memory_bytes") == 2 * length

        # Another principal is not starved by the first.
        t0 = time.monotonic()
        r = inst.infer("plain", small, headers={"Authorization": f"Bearer {other}",
                                                   "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert time.monotonic() - t0 < 2

        # The principal over its share is refused even a small body while it holds 8 MiB...
        with tls_connect(inst.data_port, inst.ca, timeout=10) as s:
            s.sendall(head.replace(str(length).encode(), str(MiB + 1).encode()))
            r = read_response(s, timeout=5)
        assert r is not None
        check_json_error(r, 503)
        # ...and gets it back once its connections end: reservations go with the requests.
        for s in held:
            s.close()
        deadline = time.monotonic() + 5
        while metric(inst, "aegis_body_memory_bytes") != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert metric(inst, "aegis_body_memory_bytes") == 0
        r = inst.infer("plain", small, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert metric(inst, "aegis_limit_refusals_total", 'limit="body_memory_principal"') == FLOOD - 2 + 1
        assert metric(inst, "aegis_body_memory_limit_bytes") == BUDGET
        def refusals():
            return [e for e in inst.audit_events() if e.get("status") == 503 and e.get("action") == "infer"]
        inst.wait_audit(lambda e: len(refusals()) >= FLOOD - 2 + 1, what="for every refusal")
        assert len(refusals()) == FLOOD - 2 + 1
        assert all("retry later" in e.get("reason", "") for e in refusals()), refusals()[:3]
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def test_response_size_is_capped_per_model(limited):
    inst = limited
    name = input_name(inst, "echo")
    data = [0.123456789 * i for i in range(2000)]  # ~24 KiB of JSON out, 8 KiB as binary
    request = {"inputs": [{"name": name, "datatype": "FP32", "shape": [2000], "data": data}]}
    r = inst.infer("echo", request)
    body = check_json_error(r, 500)
    assert "larger than its limit of 16384 bytes" in body["error"], body
    assert "binary_data_output" in body["error"], body
    # The hint works: the same outputs as binary data fit.
    request["parameters"] = {"binary_data_output": True}
    r = inst.infer("echo", request)
    assert r.status_code == 200, r.text[:300]
    assert int(r.headers["Inference-Header-Content-Length"]) < len(r.content)
    # Other models keep the [limits] default (1 MiB): the same JSON response is served.
    del request["parameters"]
    r = inst.infer("plain", request)
    assert r.status_code == 200, r.text[:300]
    assert 16384 < len(r.content) < MiB
    assert metric(inst, "aegis_limit_refusals_total", 'limit="response_size"') == 1
