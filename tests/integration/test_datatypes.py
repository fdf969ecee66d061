"""Every KServe datatype through echo.pt (forward(x): return x.clone()).

Supported: BOOL, UINT8, INT8, INT16, INT32, INT64, FP16, FP32, FP64 -> output datatype equals
the input's, values equal (FP16 within half precision). UINT16/32/64 and BYTES: libtorch does
not take them -> 400, and a well-formed request of those types is never a 500.
"""

import numpy as np
import pytest

from aegis_testlib import NP_DTYPES, check_json_error, output_array


@pytest.fixture(scope="module")
def echo_io(server):
    r = server.get("/v2/models/echo")
    assert r.status_code == 200, r.text
    j = r.json()
    inp = (j.get("inputs") or [{"name": "x"}])[0]["name"]
    return inp


def values(dt):
    if dt == "BOOL":
        return np.array([[True, False, True], [False, False, True]])
    if dt.startswith("FP"):
        if dt == "FP16":
            v = [0.0, -0.0, 1.5, -2.25, 65504.0, 2.0 ** -14, 0.1, -1000.5, 3.14159, 2.0 ** -24, -65504.0, 7.0]
        elif dt == "FP32":
            v = [0.0, 1.0, -1.5, 3.4028234663852886e38, 1.1754943508222875e-38, 0.1, -123456.7890625, 1e-45,
                 2.0 ** 100, -(2.0 ** -100), 16777216.0, 0.3333333432674408]
        else:
            v = [0.0, 1.0, -1.5, 1.7976931348623157e308, 2.2250738585072014e-308, 0.1, 1e-300, 5e-324,
                 -123456789.123456789, 3.141592653589793, 2.0 ** 60 + 1, -0.3]
        return np.array(v, dtype=NP_DTYPES[dt]).reshape(3, 4)
    info = np.iinfo(NP_DTYPES[dt])
    v = [info.min, info.max, 0, 1, -1 if info.min < 0 else 2, info.min + 1, info.max - 1, 42]
    return np.array(v, dtype=NP_DTYPES[dt]).reshape(2, 4)


def request(name, dt, arr, nested):
    data = arr.tolist() if nested else arr.reshape(-1).tolist()
    return {"inputs": [{"name": name, "datatype": dt, "shape": list(arr.shape), "data": data}]}


SUPPORTED = ["BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"]


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize("dt", SUPPORTED)
def test_echo_roundtrip(server, echo_io, dt, nested):
    arr = values(dt)
    r = server.infer("echo", request(echo_io, dt, arr, nested))
    assert r.status_code == 200, f"echo {dt}: {r.status_code} {r.text[:500]}"
    outs = r.json()["outputs"]
    assert len(outs) == 1, outs
    out = outs[0]
    assert out["datatype"] == dt, f"output datatype {out['datatype']} != input {dt}"
    assert out["shape"] == list(arr.shape), out
    flat = np.array(out["data"], dtype=object).reshape(-1).tolist()
    if dt == "BOOL":
        assert all(isinstance(v, bool) for v in flat), f"BOOL data must be JSON true/false: {out['data']}"
    elif not dt.startswith("FP"):
        assert all(isinstance(v, int) and not isinstance(v, bool) for v in flat), \
            f"{dt} data must be JSON integers: {out['data']}"
    got = output_array(out)
    if dt == "FP16":
        np.testing.assert_array_equal(got.astype(np.float16), arr)  # values are exact halves
    elif dt.startswith("FP"):
        np.testing.assert_array_equal(got, arr, err_msg=f"{dt} values changed in the round trip")
        assert np.array_equal(np.signbit(got), np.signbit(arr)), "sign of zero lost"
    else:
        assert got.dtype == arr.dtype
        np.testing.assert_array_equal(got, arr, err_msg=f"{dt} values changed in the round trip")


def test_fp16_rounding_within_half_precision(server, echo_io):
    raw = [0.1, 0.2, 1 / 3, 123.456, -7.77, 1e-3]
    r = server.infer("echo", {"inputs": [{"name": echo_io, "datatype": "FP16", "shape": [6], "data": raw}]})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["datatype"] == "FP16", out
    got = np.array(out["data"], dtype=np.float64)
    want = np.array(raw, dtype=np.float16).astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=2 ** -10, atol=2 ** -24)


def test_int64_beyond_double_precision(server, echo_io):
    v = [2 ** 53 + 1, -(2 ** 53) - 3, 9007199254740993, 2 ** 62 + 7]
    r = server.infer("echo", {"inputs": [{"name": echo_io, "datatype": "INT64", "shape": [4], "data": v}]})
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == v, f"INT64 values lost precision: {r.json()['outputs'][0]['data']} != {v}"


UNSUPPORTED = [
    ("UINT16", [0, 65535, 1, 2]),
    ("UINT32", [0, 4294967295, 1, 2]),
    ("UINT64", [0, 18446744073709551615, 1, 2]),
    ("BYTES", ["abc", "", "\u00e9t\u00e9", "x" * 50]),
]


@pytest.mark.parametrize("dt,data", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_by_engine_is_400(server, echo_io, dt, data):
    r = server.infer("echo", {"inputs": [{"name": echo_io, "datatype": dt, "shape": [2, 2], "data": data}]})
    assert r.status_code < 500, f"well-formed {dt} request -> {r.status_code} (must never be a 5xx): {r.text[:300]}"
    check_json_error(r, 400, f"{dt} sent to echo.pt")


@pytest.mark.parametrize("data", [[["a", "b"]], ["a", "b"]], ids=["nested", "flat"])
def test_bytes_refused_whether_nested_or_flat(server, echo_io, data):
    """BYTES, nested as the shape or flat, is a well-formed tensor that echo.pt cannot take: the
    same 400 either way, naming the datatype."""
    r = server.infer("echo", {"inputs": [{"name": echo_io, "datatype": "BYTES", "shape": [1, 2], "data": data}]})
    body = check_json_error(r, 400, "BYTES sent to echo.pt")
    assert body["error"] == f"input '{echo_io}' has datatype BYTES but the model expects a numeric datatype", body
