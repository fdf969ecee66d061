"""`aegis scan PATH [--json]`: static model checks from the command line.

Exit codes: 0 clean, 1 findings, 2 could not scan. The corpus is built here with
Debian's Python (pickle, zipfile, torch, onnx); no server is started.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import struct
import time
import zipfile

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from aegis_testlib import EXAMPLES, aegis

CLEAN_EXAMPLES = [
    ("mlp.onnx", "onnx"),
    ("mlp.pt", "torchscript"),
    ("echo.pt", "torchscript"),
    ("failing.pt", "torchscript"),
    ("xgb_classifier.json", "xgboost-json"),
    ("xgb_classifier.ubj", "xgboost-ubj"),
]


class RunsCommand:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class RunsEval:
    def __reduce__(self):
        return (eval, ("1+1",))


def scan(path, *extra):
    return aegis("scan", path, *extra)


def scan_json(path):
    result = scan(path, "--json")
    return result.returncode, json.loads(result.stdout)


def assert_finding(report: dict, reason: str, callable_: str | None = None, severity: str | None = None):
    for f in report["findings"]:
        if reason in f["reason"] and (callable_ is None or f["callable"] == callable_) and \
                (severity is None or f["severity"] == severity):
            return f
    raise AssertionError(f"no finding {reason!r} {callable_!r} in {json.dumps(report, indent=1)}")


# ----------------------------------------------------------------- clean models


@pytest.mark.parametrize("name,fmt", CLEAN_EXAMPLES)
def test_examples_scan_clean(name, fmt):
    code, report = scan_json(EXAMPLES / name)
    assert code == 0, report
    assert report == {"path": str(EXAMPLES / name), "format": fmt, "clean": True, "findings": []}
    human = scan(EXAMPLES / name)
    assert human.returncode == 0
    assert f"{fmt}, clean" in human.stdout


def test_help_documents_exit_codes():
    result = aegis("scan", "--help")
    assert result.returncode == 0
    assert "0 every file clean; 1 findings" in result.stdout
    assert "2 could not scan" in result.stdout


# ------------------------------------------------------------------- pickles


@pytest.mark.parametrize("protocol", range(0, 6))
def test_reduce_payload_every_protocol(tmp_path, protocol):
    path = tmp_path / f"evil_p{protocol}.pkl"
    path.write_bytes(pickle.dumps(RunsCommand(), protocol=protocol))
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "pickle"
    finding = assert_finding(report, "pickle imports posix.system (not on the allowlist)", "posix.system", "critical")
    assert finding["location"].startswith("offset ")


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_builtins_eval(tmp_path, protocol):
    path = tmp_path / "eval.pkl"
    path.write_bytes(pickle.dumps(RunsEval(), protocol=protocol))
    code, report = scan_json(path)
    assert code == 1
    expected = "__builtin__.eval" if protocol < 3 else "builtins.eval"
    assert_finding(report, "pickle imports", expected, "critical")


def test_human_output_names_the_callable(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(RunsCommand(), protocol=2))
    result = scan(path)
    assert result.returncode == 1
    assert "CRITICAL  offset 2: pickle imports posix.system (not on the allowlist)" in result.stdout
    assert "pickle, 1 finding (1 critical)" in result.stdout
    assert "1 finding in" in result.stderr


def test_stack_global_through_memo(tmp_path):
    # Module and name are memoized, decoys pushed and popped, then fetched by BINGET.
    payload = (b"\x80\x04" b"\x8c\x02os\x94" b"0" b"\x8c\x06system\x94" b"0"
               b"\x8c\x0ctorch._utils\x94" b"\x8c\x12_rebuild_tensor_v2\x94" b"00"
               b"h\x00h\x01\x93" b"\x8c\x02id\x85R.")
    path = tmp_path / "memo.pkl"
    path.write_bytes(payload)
    code, report = scan_json(path)
    assert code == 1
    assert_finding(report, "pickle imports os.system", "os.system", "critical")


def test_unresolvable_stack_global(tmp_path):
    path = tmp_path / "int.pkl"
    path.write_bytes(b"\x80\x04K\x2a\x8c\x06system\x93N\x85R.")
    code, report = scan_json(path)
    assert code == 1
    assert_finding(report, "unresolvable import", severity="critical")


def test_inst_opcode(tmp_path):
    path = tmp_path / "inst.pkl"
    path.write_bytes(b"(S'id'\nios\nsystem\n.")
    code, report = scan_json(path)
    assert code == 1
    assert_finding(report, "pickle imports os.system", "os.system")


def test_module_name_tricks_are_not_allowed(tmp_path):
    for i, module in enumerate([b"torch._utils ", b"torch._utils\r", b"torch._utils.os"]):
        path = tmp_path / f"trick{i}.pkl"
        path.write_bytes(b"\x80\x02c" + module + b"\n_rebuild_tensor_v2\n)R.")
        code, report = scan_json(path)
        assert code == 1, module
        assert_finding(report, "not on the allowlist")


@pytest.mark.parametrize("name", ["model.onnx", "model.json", "weights.safetensors"])
def test_pickle_behind_another_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(RunsCommand(), protocol=4))
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "pickle"
    assert_finding(report, "pickle imports posix.system", "posix.system")


# ------------------------------------------------------------ torch archives


def test_torch_save_with_payload(tmp_path):
    path = tmp_path / "payload.pt"
    torch.save({"weight": torch.zeros(2), "hook": RunsCommand()}, path)
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "torch.save"
    assert_finding(report, "torch.save archive: unsafe format (arbitrary pickle); export with torch.jit.save",
                   severity="critical")
    finding = assert_finding(report, "pickle imports posix.system", "posix.system")
    assert finding["location"].startswith("zip entry 'payload/data.pkl' offset ")


def test_legacy_torch_save_is_refused(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"weight": torch.zeros(2), "hook": RunsCommand()}, path, _use_new_zipfile_serialization=False)
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "torch.save"
    assert_finding(report, "torch.save archive (legacy format): unsafe format", severity="critical")
    assert_finding(report, "pickle imports posix.system", "posix.system")


class RichModule(torch.nn.Module):
    """Attributes of many TorchScript types: their pickles must stay on the allowlist."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm = torch.nn.BatchNorm2d(4)
        self.lstm = torch.nn.LSTM(4, 8, batch_first=True)
        self.ints: list[int] = [1, 2, 3]
        self.floats: list[float] = [1.5]
        self.flags: list[bool] = [True]
        self.tensors: list[torch.Tensor] = [torch.zeros(1)]
        self.table: dict[str, torch.Tensor] = {"a": torch.ones(2)}
        self.pair: tuple[int, float] = (1, 2.0)
        self.maybe: torch.Tensor | None = None
        self.number = 1 + 2j
        self.text = "hello"

    def forward(self, x):
        return self.norm(self.conv(x))


def test_richer_torchscript_models_scan_clean(tmp_path):
    models = {
        "rich.pt": torch.jit.script(RichModule()),
        "quantized.pt": torch.jit.script(torch.quantization.quantize_dynamic(
            torch.nn.Sequential(torch.nn.Linear(8, 8)), {torch.nn.Linear}, dtype=torch.qint8)),
        "traced.pt": torch.jit.trace(torch.nn.Linear(3, 3), torch.zeros(1, 3)),
    }
    for name, module in models.items():
        torch.jit.save(module, str(tmp_path / name))
        code, report = scan_json(tmp_path / name)
        assert code == 0, report
        assert report["format"] == "torchscript"


def test_clean_torch_save_is_still_refused(tmp_path):
    path = tmp_path / "state.pt"
    torch.save(torch.nn.Linear(4, 3).state_dict(), path)
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "torch.save"
    assert len(report["findings"]) == 1, report
    assert_finding(report, "torch.save archive: unsafe format")


# ---------------------------------------------------------------------- zips


def test_zip_slip_and_duplicates(tmp_path):
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../evil", b"x")
        zf.writestr("/abs/path", b"x")
        zf.writestr("ok/name", b"1")
        with pytest.warns(UserWarning):
            zf.writestr("ok/name", b"2")
    assert "../evil" in zipfile.ZipFile(path).namelist()
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "zip"
    assert_finding(report, "unsafe entry name: '..' path component", severity="critical")
    assert_finding(report, "unsafe entry name: absolute path", severity="critical")
    assert_finding(report, "duplicate entry name", severity="critical")


def test_zip_bomb(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(64 << 20))
    assert path.stat().st_size < 200_000
    code, report = scan_json(path)
    assert code == 1
    assert_finding(report, "exceeds the limit of 200:1 (zip bomb?)", severity="critical")


def test_pickle_found_by_content_inside_a_zip(tmp_path):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", b"hello")
        zf.writestr("weights.bin", pickle.dumps(RunsCommand(), protocol=4))
    code, report = scan_json(path)
    assert code == 1
    finding = assert_finding(report, "pickle imports posix.system", "posix.system")
    assert finding["location"].startswith("zip entry 'weights.bin' offset ")


# ---------------------------------------------------------------------- ONNX


def onnx_model(tensor=None, domain=""):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], domain=domain)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              [tensor] if tensor is not None else [])
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets)


def external_tensor(location):
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


@pytest.mark.parametrize("location,why", [("../secret.bin", "'..' path component"),
                                          ("/etc/passwd", "absolute path"),
                                          ("sub/../../x", "'..' path component")])
def test_onnx_external_data_escaping(tmp_path, location, why):
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model(external_tensor(location)).SerializeToString())
    code, report = scan_json(path)
    assert code == 1
    assert report["format"] == "onnx"
    finding = assert_finding(report, f"escapes the model folder ({why})", severity="critical")
    assert finding["location"] == "graph.initializer 'w'"


def test_onnx_external_data_in_a_folder(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onnx_model(external_tensor("w.bin")).SerializeToString())
    (folder / "w.bin").write_bytes(struct.pack("<f", 1.0))
    alone = scan(folder / "model.onnx")
    assert alone.returncode == 1
    assert "a single artifact cannot carry it" in alone.stdout
    code, reports = scan_json(folder)
    assert code == 0, reports
    assert [r["path"] for r in reports] == [str(folder / "model.onnx")]


def test_onnx_custom_domain(tmp_path):
    path = tmp_path / "custom.onnx"
    path.write_bytes(onnx_model(domain="com.evil").SerializeToString())
    code, report = scan_json(path)
    assert code == 1
    assert_finding(report, "custom operator domain 'com.evil' is not known to the engine", severity="medium")


# --------------------------------------------------------------- safetensors


def safetensors(header: dict, data: bytes, declared: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", declared if declared is not None else len(raw)) + raw + data


def test_safetensors_checks(tmp_path):
    cases = {
        "clean": (safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)), None),
        "overlap": (safetensors({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
                                 "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}, bytes(8)),
                    "overlaps tensor 'a'"),
        "range": (safetensors({"a": {"dtype": "U8", "shape": [64], "data_offsets": [0, 64]}}, bytes(8)),
                  "outside the data region"),
        "huge": (safetensors({}, b"", declared=1 << 40), "outside [2, 104857600]"),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        code, report = scan_json(path)
        assert report["format"] == "safetensors", name
        if reason is None:
            assert code == 0, report
        else:
            assert code == 1, name
            assert_finding(report, reason)


# ------------------------------------------------------- could not be scanned


@pytest.mark.parametrize("name", [n for n, _ in CLEAN_EXAMPLES])
def test_truncated_examples_cannot_be_scanned(tmp_path, name):
    content = (EXAMPLES / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(content[: len(content) // 2])
    code, report = scan_json(path)
    assert code == 2, report
    assert report["format"] is None and report["clean"] is False and report["error"]
    human = scan(path)
    assert human.returncode == 2
    assert human.stderr.startswith("aegis: could not scan")


def test_garbage_and_empty_files(tmp_path):
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"\x07" + random.Random(1234).randbytes(8 << 20))  # 0x07: no format starts so
    code, report = scan_json(garbage)
    assert code == 2
    assert "could not determine the model format" in report["error"]
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert scan(empty).returncode == 2
    assert scan(tmp_path / "missing").returncode == 2


# --------------------------------------------------------------------- folders


def test_folder_report(tmp_path):
    (tmp_path / "good.onnx").write_bytes((EXAMPLES / "mlp.onnx").read_bytes())
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(RunsCommand(), protocol=2))
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 100)
    os.symlink("/etc/passwd", tmp_path / "link")
    code, reports = scan_json(tmp_path)
    assert code == 1  # findings win over "could not scan"
    by_name = {os.path.basename(r["path"]): r for r in reports}
    assert by_name["good.onnx"]["clean"] is True
    assert_finding(by_name["bad.pkl"], "pickle imports posix.system", "posix.system")
    assert by_name["bad.pkl"]["findings"][0]["location"].startswith("bad.pkl: offset ")
    assert by_name["junk.bin"]["format"] is None
    assert by_name["link"]["format"] == "unknown"
    assert_finding(by_name["link"], "symbolic link")
    human = scan(tmp_path)
    assert "4 files: 1 clean, 2 with findings, 1 could not be scanned" in human.stdout


# ------------------------------------------------------------------------ speed


def timed_scan(path):
    started = time.monotonic()
    result = scan(path)
    return result, time.monotonic() - started


def test_big_torchscript_model_scans_fast(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "big.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(5600, 5600)), str(path))
    assert path.stat().st_size > 120_000_000  # ~126 MB
    # The aegis binary itself takes a while to start (it links the engines): compare
    # against a tiny model so that only the scan is measured.
    baseline = min(timed_scan(EXAMPLES / "echo.pt")[1] for _ in range(2))
    result, elapsed = min((timed_scan(path) for _ in range(2)), key=lambda r: r[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed - baseline < 0.5, f"{path.stat().st_size >> 20} MiB: {elapsed:.2f}s vs {baseline:.2f}s baseline"
