"""KServe binary tensor data extension (Inference-Header-Content-Length)."""

import json

import numpy as np
import pytest

from aegis_testlib import (NP_DTYPES, binary_request, check_json_error, expected_output, infer_body, output_array,
                           parse_binary_response, reference_case)

TOL = 1e-5


def post_binary(server, model, request, blobs, extra_headers=None):
    body, headers = binary_request(request, blobs)
    if extra_headers:
        headers.update(extra_headers)
    return server.post(f"/v2/models/{model}/infer", data=body, headers=headers)


def binary_input(name, arr, dt):
    raw = np.ascontiguousarray(arr).astype(np.dtype(NP_DTYPES[dt]).newbyteorder("<")).tobytes()
    return {"name": name, "datatype": dt, "shape": list(arr.shape), "parameters": {"binary_data_size": len(raw)}}, raw


@pytest.mark.parametrize("model", ["mlp_torch", "mlp_onnx", "xgb"])
def test_binary_input_json_output(server, model):
    x, y = reference_case(model)
    spec, raw = binary_input("input", x, "FP32")
    r = post_binary(server, model, {"inputs": [spec]}, [raw])
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
    j = r.json()
    np.testing.assert_allclose(output_array(j["outputs"][0]), y, atol=TOL)


def _check_binary_output(r, want):
    assert r.status_code == 200, f"{r.status_code} {r.content[:500]!r}"
    assert "Inference-Header-Content-Length" in r.headers, f"no Inference-Header-Content-Length: {dict(r.headers)}"
    header, blobs = parse_binary_response(r.headers, r.content)
    out = header["outputs"][0]
    assert out["name"] == "output" and out["datatype"] == "FP32", out
    assert "data" not in out, f"binary output must not also carry data: {out}"
    size = out.get("parameters", {}).get("binary_data_size")
    assert size == want.size * 4, f"binary_data_size {size} != {want.size * 4}"
    assert out["shape"] == list(want.shape), out
    got = np.frombuffer(blobs["output"], dtype="<f4").reshape(out["shape"])
    np.testing.assert_allclose(got, want, atol=TOL)
    return header


@pytest.mark.parametrize("model", ["mlp_torch", "mlp_onnx", "xgb_ubj"])
def test_json_input_binary_output_per_output(server, model):
    x, y = reference_case(model)
    r = server.infer(model, infer_body(x, outputs=[{"name": "output", "parameters": {"binary_data": True}}]))
    _check_binary_output(r, y)


def test_binary_data_output_request_parameter(server):
    x, y = reference_case("mlp_torch")
    r = server.infer("mlp_torch", infer_body(x, parameters={"binary_data_output": True}))
    _check_binary_output(r, y)


def test_binary_in_binary_out_with_id(server):
    x, y = reference_case("xgb")
    spec, raw = binary_input("input", x, "FP32")
    req = {"id": "bin-1", "inputs": [spec], "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}
    r = post_binary(server, "xgb", req, [raw])
    header = _check_binary_output(r, y)
    assert header.get("id") == "bin-1", header


def test_binary_output_false_gives_json(server):
    x, y = reference_case("mlp_torch")
    r = server.infer("mlp_torch", infer_body(x, outputs=[{"name": "output", "parameters": {"binary_data": False}}]))
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    np.testing.assert_allclose(output_array(out), y, atol=TOL)


def test_random_batch_binary(server):
    x = np.random.default_rng(3).normal(size=(33, 4)).astype(np.float32)
    spec, raw = binary_input("input", x, "FP32")
    r = post_binary(server, "mlp_onnx", {"inputs": [spec], "parameters": {"binary_data_output": True}}, [raw])
    _check_binary_output(r, expected_output("mlp_onnx", x))


ECHO_TYPES = {
    "BOOL": np.array([[True, False], [False, True]]),
    "UINT8": np.array([[0, 255], [7, 128]], dtype=np.uint8),
    "INT8": np.array([[-128, 127], [0, -1]], dtype=np.int8),
    "INT16": np.array([[-32768, 32767], [1, -2]], dtype=np.int16),
    "INT32": np.array([[-2 ** 31, 2 ** 31 - 1], [3, -4]], dtype=np.int32),
    "INT64": np.array([[-2 ** 63, 2 ** 63 - 1], [2 ** 53 + 1, -5]], dtype=np.int64),
    "FP16": np.array([[0.1, -65504], [2 ** -24, 1.5]], dtype=np.float16),
    "FP32": np.array([[0.1, -3.4e38], [1e-45, 1.5]], dtype=np.float32),
    "FP64": np.array([[0.1, -1.7e308], [5e-324, 1.5]], dtype=np.float64),
}


@pytest.fixture(scope="module")
def echo_input(server):
    r = server.get("/v2/models/echo")
    assert r.status_code == 200, r.text
    return (r.json().get("inputs") or [{"name": "x"}])[0]["name"]


@pytest.mark.parametrize("dt", list(ECHO_TYPES))
def test_echo_binary_roundtrip(server, echo_input, dt):
    arr = ECHO_TYPES[dt]
    spec, raw = binary_input(echo_input, arr, dt)
    r = post_binary(server, "echo", {"inputs": [spec], "parameters": {"binary_data_output": True}}, [raw])
    assert r.status_code == 200, f"{dt}: {r.status_code} {r.content[:300]!r}"
    header, blobs = parse_binary_response(r.headers, r.content)
    out = header["outputs"][0]
    assert out["datatype"] == dt and out["shape"] == [2, 2], out
    assert "data" not in out, out
    assert blobs[out["name"]] == raw, f"{dt}: echoed bytes differ: {blobs[out['name']]!r} != {raw!r}"


# ---- malformed binary requests: each must be a 400 with {"error"}


def _bad(server, body: bytes, header_len: str, what: str):
    r = server.post("/v2/models/mlp_torch/infer", data=body,
                    headers={"Inference-Header-Content-Length": header_len, "Content-Type": "application/octet-stream"})
    check_json_error(r, 400, what)


def _req(size, shape=(1, 4)):
    return json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(shape),
                                   "parameters": {"binary_data_size": size}}]}).encode()


def test_bad_binary_size_smaller_than_shape(server):
    head = _req(12)
    _bad(server, head + b"\0" * 12, str(len(head)), "binary_data_size 12 for a [1,4] FP32 tensor")


def test_bad_binary_size_larger_than_body(server):
    head = _req(16)
    _bad(server, head + b"\0" * 8, str(len(head)), "binary_data_size 16 with only 8 bytes after the JSON")


def test_bad_binary_trailing_bytes(server):
    head = _req(16)
    _bad(server, head + b"\0" * 20, str(len(head)), "4 trailing bytes after the binary sections")


def test_bad_header_length_beyond_body(server):
    head = _req(16)
    body = head + b"\0" * 16
    _bad(server, body, str(len(body) + 100), "Inference-Header-Content-Length larger than the body")


def test_bad_header_length_cuts_json(server):
    head = _req(16)
    _bad(server, head + b"\0" * 16, str(len(head) - 5), "Inference-Header-Content-Length inside the JSON")


@pytest.mark.parametrize("value", ["abc", "-1", "", "99999999999999999999999", "0x10"])
def test_bad_header_length_value(server, value):
    head = _req(16)
    _bad(server, head + b"\0" * 16, value, f"Inference-Header-Content-Length: {value!r}")


def test_negative_binary_data_size(server):
    head = _req(-16)
    _bad(server, head + b"\0" * 16, str(len(head)), "negative binary_data_size")


def test_binary_size_with_data_too(server):
    head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4],
                                   "parameters": {"binary_data_size": 16}}]}).encode()
    r = server.post("/v2/models/mlp_torch/infer", data=head + b"\0" * 16,
                    headers={"Inference-Header-Content-Length": str(len(head))})
    check_json_error(r, 400, "an input with both data and binary_data_size")
