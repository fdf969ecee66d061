"""KServe v2 REST data plane: server/model metadata, health, ready, inference results."""

import concurrent.futures
import json

import numpy as np
import pytest

from aegis_testlib import (EXAMPLES, PLATFORMS, aegis, expected_output, infer_body, output_array, project_version,
                           reference_case, tensor_json)

MODELS = {"mlp_onnx": "onnx", "mlp_torch": "torchscript", "xgb": "xgboost", "xgb_ubj": "xgboost",
          "echo": "torchscript"}
NUMERIC = ["mlp_onnx", "mlp_torch", "xgb", "xgb_ubj"]
TOL = 1e-5


def test_server_metadata(server):
    r = server.get("/v2")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j.get("name") == "aegis", j
    assert j.get("version") == project_version(), j  # CMakeLists.txt's project(VERSION)
    assert isinstance(j.get("extensions"), list) and "binary_tensor_data" in j["extensions"], j


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_health(server, path):
    r = server.get(path)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("versioned", [False, True], ids=["latest", "v1"])
def test_model_metadata(server, model, versioned):
    path = f"/v2/models/{model}" + ("/versions/1" if versioned else "")
    r = server.get(path)
    assert r.status_code == 200, f"GET {path} -> {r.status_code} {r.text}"
    j = r.json()
    assert j.get("name") == model, j
    assert isinstance(j.get("versions"), list) and "1" in j["versions"], j
    assert j.get("platform") == PLATFORMS[MODELS[model]], j
    for key in ("inputs", "outputs"):
        assert isinstance(j.get(key), list) and j[key], f"{key} missing or empty: {j}"
        for t in j[key]:
            assert {"name", "datatype", "shape"} <= set(t), f"{key} entry lacks name/datatype/shape: {t}"
            assert isinstance(t["shape"], list), t
    if model != "echo":
        assert j["inputs"][0]["name"] == "input", j
    if model in ("mlp_onnx", "xgb", "xgb_ubj"):
        assert j["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}], j["inputs"]
        assert j["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 3]}], j["outputs"]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("versioned", [False, True], ids=["latest", "v1"])
def test_model_ready(server, model, versioned):
    path = f"/v2/models/{model}" + ("/versions/1" if versioned else "") + "/ready"
    r = server.get(path)
    assert r.status_code == 200, f"GET {path} -> {r.status_code} {r.text}"
    j = r.json()
    assert j.get("name") == model and j.get("ready") is True, j


def _check_infer(server, model, x, version=None, expect=None):
    r = server.infer(model, infer_body(x), version=version)
    assert r.status_code == 200, f"infer {model} -> {r.status_code} {r.text[:500]}"
    j = r.json()
    assert j.get("model_name") == model, j
    assert j.get("model_version") == (version or "1"), j
    outs = j.get("outputs")
    assert isinstance(outs, list) and len(outs) == 1, j
    out = outs[0]
    assert out["name"] == "output" and out["datatype"] == "FP32", out
    assert out["shape"] == [x.shape[0], 3], out
    got = output_array(out)
    want = expected_output(model, x) if expect is None else expect
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL, err_msg=f"{model} output differs from the engine's own")
    return j


@pytest.mark.parametrize("model", NUMERIC)
def test_infer_reference(server, model):
    x, y = reference_case(model)
    # The reference file and the Python engine agree (sanity of the expectation itself).
    np.testing.assert_allclose(expected_output(model, x), y, atol=TOL)
    _check_infer(server, model, x, expect=y)
    _check_infer(server, model, x, version="1", expect=y)


@pytest.mark.parametrize("model", NUMERIC)
@pytest.mark.parametrize("rows", [1, 3, 17])
def test_infer_random_batches(server, model, rows):
    x = np.random.default_rng(rows * 7919).normal(size=(rows, 4)).astype(np.float32) * 3
    _check_infer(server, model, x)


@pytest.mark.parametrize("model", ["mlp_torch", "mlp_onnx", "xgb"])
def test_nested_data_accepted(server, model):
    x, y = reference_case(model)
    body = {"inputs": [tensor_json("input", x, nested=True)]}
    assert isinstance(body["inputs"][0]["data"][0], list)
    r = server.infer(model, body)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(output_array(r.json()["outputs"][0]), y, atol=TOL)


def test_id_echoed(server):
    x, _ = reference_case("mlp_torch")
    r = server.infer("mlp_torch", infer_body(x, id="req-42-\u00e9"))
    assert r.status_code == 200, r.text
    assert r.json().get("id") == "req-42-\u00e9", r.json()


def test_requested_output_filter(server):
    x, y = reference_case("mlp_torch")
    r = server.infer("mlp_torch", infer_body(x, outputs=[{"name": "output"}]))
    assert r.status_code == 200, r.text
    outs = r.json()["outputs"]
    assert [o["name"] for o in outs] == ["output"], outs
    np.testing.assert_allclose(output_array(outs[0]), y, atol=TOL)


def test_latest_version_is_most_recently_pushed(server):
    mlp = (EXAMPLES / "mlp.pt").read_bytes()
    server.push_ok("latest_probe", "7", mlp, "torchscript")
    server.push_ok("latest_probe", "3", mlp, "torchscript")
    r = server.get("/v2/models/latest_probe")
    assert r.status_code == 200, r.text
    assert set(r.json()["versions"]) >= {"3", "7"}, r.json()
    x, y = reference_case("mlp_torch")
    r = server.infer("latest_probe", infer_body(x))
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == "3", f"unversioned infer must use the most recently pushed version: {r.json()}"
    r = server.infer("latest_probe", infer_body(x), version="7")
    assert r.status_code == 200 and r.json()["model_version"] == "7", r.text


def test_concurrent_infer(server):
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=(2, 4)).astype(np.float32) for _ in range(64)]
    models = ["mlp_torch", "mlp_onnx", "xgb", "xgb_ubj"]

    def one(i):
        model = models[i % len(models)]
        s = server.session()
        try:
            r = s.post(server.url(f"/v2/models/{model}/infer"), json=infer_body(xs[i]), timeout=60)
        finally:
            s.close()
        return model, xs[i], r

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(len(xs))))
    for model, x, r in results:
        assert r.status_code == 200, f"{model}: {r.status_code} {r.text[:300]}"
        np.testing.assert_allclose(output_array(r.json()["outputs"][0]), expected_output(model, x), atol=TOL)


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_every_response_names_its_audited_request(server):
    """X-Request-Id on answers of both planes, errors and health included, is the audit event's request id."""
    answers = [server.get("/v2/health/live", token=False), server.get("/v2"), server.get("/v2/models/no-such-model"),
               server.get("/v2", token=False), server.get("/v1/models", admin=True),
               server.get("/v1/no-such-endpoint", admin=True), server.post("/v2/health/ready", token=False)]
    ids = [r.headers.get("X-Request-Id") for r in answers]
    assert all(i and len(i) == 16 and all(c in "0123456789abcdef" for c in i) for i in ids), ids
    assert len(set(ids)) == len(ids), ids
    for r, request_id in zip(answers, ids):
        e = server.wait_audit(lambda e, i=request_id: e.get("request_id") == i, what=f"request {request_id}")
        assert e["status"] == r.status_code, e
        assert "request_id_origin" not in e and "traceparent" not in e, e


def test_client_request_id_and_traceparent_are_echoed_and_audited(server):
    r = server.get("/v2/models/mlp_onnx", headers={"X-Request-Id": "client-req.42:a_b", "traceparent": TRACEPARENT})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == "client-req.42:a_b"
    assert r.headers["traceparent"] == TRACEPARENT
    e = server.wait_audit(lambda e: e.get("request_id") == "client-req.42:a_b")
    assert e["request_id_origin"] == "client" and e["traceparent"] == TRACEPARENT, e
    assert e["action"] == "model.metadata" and e["status"] == 200, e

    # An unsafe id or a malformed traceparent is neither echoed nor recorded: the server's own id is used.
    for headers in ({"X-Request-Id": "evil id"}, {"X-Request-Id": "x" * 129},
                    {"X-Request-Id": "a\"b", "traceparent": TRACEPARENT.upper()},
                    {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
                    {"traceparent": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}):
        r = server.get("/v2/health/ready", token=False, headers=headers)
        own = r.headers["X-Request-Id"]
        assert len(own) == 16 and own != headers.get("X-Request-Id"), (headers, own)
        assert "traceparent" not in r.headers, headers
        e = server.wait_audit(lambda e, i=own: e.get("request_id") == i)
        assert "request_id_origin" not in e and "traceparent" not in e, e

    # The log with these new members still verifies end to end.
    proc = aegis("audit", "verify", "--data-dir", str(server.dir), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["ok"] is True, proc.stdout
