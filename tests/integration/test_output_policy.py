"""Per-model output policies (issue 15 §3, output hardening): `[models."NAME"] output_policy`.

One installation serves echo.pt (forward(x) = x, so the test chooses the scores) under "top3"
(top_k:3), "label", "round2" (round:2) and "plain" (full), and the real ONNX MLP as "mlp_top2"
(top_k:2) beside "mlp_full". Every response is read with requests, as JSON and as binary tensor
data (asked for per output and for the whole request), and compared with what Python computes
from the same scores. A bad policy in aegis.toml refuses to start with one line naming the model
and the value.
"""

import decimal
import json
import struct

import numpy as np
import pytest

from aegis_testlib import (EXAMPLES, Installation, aegis, assert_one_line_error, binary_request, free_port,
                           parse_binary_response, stop_and_check)

POLICIES = {"top3": "top_k:3", "label": "label", "round2": "round:2", "mlp_top2": "top_k:2"}

SCORES = np.array([[0.1, 0.7, 0.05, 0.15, 0.7],
                   [-3.5, 2.25, 1e-7, 2.25, 0.125]], dtype=np.float32)


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("aegis-outpol"))
    inst.init()
    with open(inst.config_path, "a") as f:
        for name, policy in POLICIES.items():
            f.write(f'\n[models."{name}"]\noutput_policy = "{policy}"\n')
    inst.start()
    try:
        for name in ("top3", "label", "round2", "plain"):
            inst.push_ok(name, "1", EXAMPLES / "echo.pt", "torchscript")
        inst.push_ok("mlp_top2", "1", EXAMPLES / "mlp.onnx", "onnx")
        inst.push_ok("mlp_full", "1", EXAMPLES / "mlp.onnx", "onnx")
        inst.wait_ready(60)
    except BaseException:
        inst.kill()
        raise
    yield inst
    stop_and_check(inst)


def io_names(inst, model):
    r = inst.get(f"/v2/models/{model}")
    assert r.status_code == 200, r.text
    meta = r.json()
    return meta["inputs"][0]["name"], meta["outputs"][0]["name"], meta


def request(name, arr, datatype="FP32", **extra):
    body = {"inputs": [{"name": name, "datatype": datatype, "shape": list(arr.shape), "data": arr.ravel().tolist()}]}
    body.update(extra)
    return body


def infer(inst, model, body):
    r = inst.infer(model, body)
    assert r.status_code == 200, f"{model}: {r.status_code} {r.text[:500]}"
    return r


def binary_bytes_elements(raw: bytes) -> list[str]:
    """BYTES elements of a binary section: 4-byte little-endian length, then the bytes."""
    out, i = [], 0
    while i < len(raw):
        (n,) = struct.unpack_from("<I", raw, i)
        out.append(raw[i + 4:i + 4 + n].decode())
        i += 4 + n
    assert i == len(raw)
    return out


def expected_top_k(scores: np.ndarray, k: int) -> list[list[tuple[float, int]]]:
    """Per row, (score, index) of the k highest, highest first, ties by lower index."""
    rows = []
    for row in scores.reshape(-1, scores.shape[-1]):
        order = sorted(range(len(row)), key=lambda i: (-float(row[i]), i))[:k]
        rows.append([(float(row[i]), i) for i in order])
    return rows


def parse_classes(strings: list[str]) -> list[tuple[float, int]]:
    out = []
    for s in strings:
        score, index = s.split(":")
        out.append((float(score), int(index)))
    return out


def check_top_k(strings, shape, scores, k, dtype=np.float32):
    rows = expected_top_k(scores, k)
    assert shape == list(scores.shape[:-1]) + [min(k, scores.shape[-1])]
    got = parse_classes(strings)
    flat = [c for row in rows for c in row]
    assert [i for _, i in got] == [i for _, i in flat], (strings, flat)
    # Each score reads back as the very value of the output's own type.
    assert [dtype(s) for s, _ in got] == [dtype(s) for s, _ in flat], (strings, flat)


def round_half_away(v: float, d: int) -> float:
    """Rounds the exact binary value of v, half away from zero (decimal's ROUND_HALF_UP)."""
    q = decimal.Decimal(1).scaleb(-d)
    return float(decimal.Decimal(float(v)).quantize(q, rounding=decimal.ROUND_HALF_UP))


# ---------------------------------------------------------------- top_k


def test_top_k_json_returns_score_index_strings(inst):
    inp, out, _ = io_names(inst, "top3")
    body = infer(inst, "top3", request(inp, SCORES)).json()
    [o] = body["outputs"]
    assert o["name"] == out and o["datatype"] == "BYTES", o
    check_top_k(o["data"], o["shape"], SCORES, 3)
    # The full scores are nowhere in the body: 0.05 and -3.5 are not among the top 3.
    assert "0.05" not in json.dumps(body) and "-3.5" not in json.dumps(body)


@pytest.mark.parametrize("how", ["binary_data_output", "per_output"])
def test_top_k_binary_is_hardened_too(inst, how):
    inp, out, _ = io_names(inst, "top3")
    if how == "binary_data_output":
        body = request(inp, SCORES, parameters={"binary_data_output": True})
    else:
        body = request(inp, SCORES, outputs=[{"name": out, "parameters": {"binary_data": True}}])
    r = infer(inst, "top3", body)
    header, blobs = parse_binary_response(r.headers, r.content)
    [o] = header["outputs"]
    assert o["datatype"] == "BYTES" and "data" not in o, o
    strings = binary_bytes_elements(blobs[out])
    assert o["parameters"]["binary_data_size"] == len(blobs[out])
    check_top_k(strings, o["shape"], SCORES, 3)
    assert SCORES.tobytes() not in r.content


def test_top_k_fp64_fp16_and_rank_one(inst):
    inp, _, _ = io_names(inst, "top3")
    d = np.array([1 / 3, 0.1, 2.0, -1.0], dtype=np.float64)
    o = infer(inst, "top3", request(inp, d, "FP64")).json()["outputs"][0]
    check_top_k(o["data"], o["shape"], d, 3, dtype=np.float64)
    assert o["data"][1] == "0.3333333333333333:0"
    h = np.array([[0.5, 0.25, 65504.0, -2.0]], dtype=np.float16)
    o = infer(inst, "top3", request(inp, h, "FP16")).json()["outputs"][0]
    check_top_k(o["data"], o["shape"], h.astype(np.float32), 3, dtype=np.float16)


def test_non_float_outputs_pass_unchanged(inst):
    inp, _, _ = io_names(inst, "top3")
    ints = np.array([[5, -1, 9]], dtype=np.int32)
    o = infer(inst, "top3", request(inp, ints, "INT32")).json()["outputs"][0]
    assert o["datatype"] == "INT32" and o["shape"] == [1, 3] and o["data"] == [5, -1, 9], o


# ---------------------------------------------------------------- label


def test_label_json_and_binary(inst):
    inp, out, _ = io_names(inst, "label")
    want = [1, 1]  # ties (0.7 at 1 and 4; 2.25 at 1 and 3) go to the lower index
    o = infer(inst, "label", request(inp, SCORES)).json()["outputs"][0]
    assert o["datatype"] == "INT64" and o["shape"] == [2, 1] and o["data"] == want, o
    r = infer(inst, "label", request(inp, SCORES, parameters={"binary_data_output": True}))
    header, blobs = parse_binary_response(r.headers, r.content)
    o = header["outputs"][0]
    assert o["datatype"] == "INT64" and o["shape"] == [2, 1], o
    assert np.frombuffer(blobs[out], dtype="<i8").tolist() == want


def test_label_ranks_nan_lowest(inst):
    inp, out, _ = io_names(inst, "label")
    arr = np.array([[np.nan, -np.inf, -5.0], [np.nan, np.nan, np.nan]], dtype=np.float32)
    raw = arr.tobytes()
    spec = {"name": inp, "datatype": "FP32", "shape": [2, 3], "parameters": {"binary_data_size": len(raw)}}
    payload, headers = binary_request({"inputs": [spec]}, [raw])
    r = inst.infer("label", payload, headers=headers)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["outputs"][0]["data"] == [2, 0]


# ---------------------------------------------------------------- round


def test_round_json_and_binary(inst):
    inp, out, _ = io_names(inst, "round2")
    arr = np.array([[0.123456, -0.98765, 2.675, 0.125], [-0.125, 1e-7, 1234.5678, -0.004]], dtype=np.float32)
    want = [np.float32(round_half_away(v, 2)) for v in arr.ravel()]
    o = infer(inst, "round2", request(inp, arr)).json()["outputs"][0]
    assert o["datatype"] == "FP32" and o["shape"] == [2, 4], o
    assert [np.float32(v) for v in o["data"]] == want, (o["data"], want)
    r = infer(inst, "round2", request(inp, arr, outputs=[{"name": out, "parameters": {"binary_data": True}}]))
    _, blobs = parse_binary_response(r.headers, r.content)
    assert np.frombuffer(blobs[out], dtype="<f4").tolist() == [float(w) for w in want]


def test_round_fp64_half_away_from_zero(inst):
    inp, _, _ = io_names(inst, "round2")
    arr = np.array([0.125, -0.125, 2.675, 1.005, 123.456789], dtype=np.float64)
    o = infer(inst, "round2", request(inp, arr, "FP64")).json()["outputs"][0]
    assert o["data"] == [round_half_away(v, 2) for v in arr], o["data"]
    assert o["data"][:3] == [0.13, -0.13, 2.67]


# ---------------------------------------------------------------- full, a real model, metadata


def test_full_policy_returns_the_scores(inst):
    inp, _, _ = io_names(inst, "plain")
    o = infer(inst, "plain", request(inp, SCORES)).json()["outputs"][0]
    assert o["datatype"] == "FP32" and [np.float32(v) for v in o["data"]] == SCORES.ravel().tolist()


def test_real_onnx_model_top_k(inst):
    inp, out, meta = io_names(inst, "mlp_top2")
    # The metadata declares the output as it is returned.
    [spec] = meta["outputs"]
    assert spec["datatype"] == "BYTES" and spec["shape"][-1] == 2, spec
    _, _, full_meta = io_names(inst, "mlp_full")
    assert full_meta["outputs"][0]["datatype"] == "FP32"
    x = np.random.default_rng(15).standard_normal((6, 4)).astype(np.float32)
    full = infer(inst, "mlp_full", request(inp, x)).json()["outputs"][0]
    scores = np.array(full["data"], dtype=np.float32).reshape(full["shape"])
    o = infer(inst, "mlp_top2", request(inp, x)).json()["outputs"][0]
    check_top_k(o["data"], o["shape"], scores, 2)
    r = infer(inst, "mlp_top2", request(inp, x, parameters={"binary_data_output": True}))
    header, blobs = parse_binary_response(r.headers, r.content)
    check_top_k(binary_bytes_elements(blobs[out]), header["outputs"][0]["shape"], scores, 2)
    assert scores.tobytes() not in r.content


def test_unknown_output_name_leaks_nothing(inst):
    inp, _, _ = io_names(inst, "top3")
    r = inst.infer("top3", request(inp, SCORES, outputs=[{"name": "nope"}]))
    assert r.status_code == 400, r.text
    assert "0.7" not in r.text and "0.15" not in r.text


# ---------------------------------------------------------------- refused at start


@pytest.mark.parametrize("value", ["top_k:0", "round:7", "top-k:3", "Label"])
def test_bad_policy_refuses_to_start(tmp_path, value):
    bad = Installation(tmp_path)
    bad.init()
    with open(bad.config_path, "a") as f:
        f.write(f'\n[models."fraud-scorer"]\noutput_policy = "{value}"\n')
    proc = aegis("serve", "--data-dir", bad.dir, "--listen", f"127.0.0.1:{free_port()}",
                 "--admin-listen", f"127.0.0.1:{free_port()}", env=bad.env(), timeout=60)
    assert_one_line_error(proc)
    line = proc.stderr.strip()
    assert 'models."fraud-scorer".output_policy' in line and f'"{value}"' in line, line
    assert '"top_k:N" (N from 1 to 1000)' in line, line
