"""Control plane registry (PUT/GET/DELETE /v1/models), the client CLI, and encryption at rest."""

import hashlib
import io
import json
import os
import pathlib
import subprocess
from urllib.parse import quote

import numpy as np
import pytest

from aegis_testlib import (EXAMPLE_MODELS, EXAMPLES, RFC3339, aegis, assert_one_line_error,
                           check_json_error, describe, find_in_tree, free_port, http_request_bytes, infer_body,
                           output_array, raw_request, reference_case)

MODEL_FIELDS = {"name", "version", "format", "sha256", "size_bytes", "created_at", "created_by", "signature"}


def test_push_response(server):
    data = (EXAMPLES / "mlp.onnx").read_bytes()
    r = server.push("reg_onnx", "1", data, "onnx")
    assert r.status_code == 201, f"{r.status_code} {r.text[:500]}"
    j = r.json()
    assert MODEL_FIELDS | {"platform", "inputs", "outputs"} <= set(j), f"fields missing: {j}"
    assert j["name"] == "reg_onnx" and j["version"] == "1" and j["format"] == "onnx", j
    assert j["sha256"] == hashlib.sha256(data).hexdigest(), j
    assert j["size_bytes"] == len(data), j
    assert RFC3339.match(j["created_at"]), j
    assert j["created_by"] == "token:admin", j
    assert j["platform"] == "onnxruntime_onnx", j
    assert j["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}], j
    assert j["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 3]}], j


def test_duplicate_version_409(server):
    r = server.push("mlp_torch", "1", EXAMPLES / "mlp.pt", "torchscript")
    check_json_error(r, 409, "re-pushing mlp_torch/1")
    r = server.push("mlp_torch", "1", EXAMPLES / "echo.pt", "torchscript")
    check_json_error(r, 409, "pushing different bytes as mlp_torch/1")
    x, y = reference_case("mlp_torch")
    r = server.infer("mlp_torch", infer_body(x))
    np.testing.assert_allclose(output_array(r.json()["outputs"][0]), y, atol=1e-5)


def legacy_xgboost_bytes() -> bytes:
    import xgboost
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    b = xgboost.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1}, xgboost.DMatrix(X, label=y), 3)
    return bytes(b.save_raw(raw_format="deprecated"))


def pickle_bomb_bytes(marker: pathlib.Path) -> bytes:
    """A torch.save() archive whose pickle runs a shell command on load (what ShellTorch-era
    servers execute). Aegis must refuse it as TorchScript and never run it."""
    import torch

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buf = io.BytesIO()
    torch.save({"weights": Evil()}, buf)
    return buf.getvalue()


REFUSED = [
    ("random bytes as onnx", "onnx", lambda tmp: os.urandom(4096)),
    ("random bytes as torchscript", "torchscript", lambda tmp: os.urandom(4096)),
    ("random bytes as xgboost", "xgboost", lambda tmp: os.urandom(4096)),
    ("onnx bytes as torchscript", "torchscript", lambda tmp: (EXAMPLES / "mlp.onnx").read_bytes()),
    ("torchscript bytes as onnx", "onnx", lambda tmp: (EXAMPLES / "mlp.pt").read_bytes()),
    ("xgboost json as onnx", "onnx", lambda tmp: (EXAMPLES / "xgb_classifier.json").read_bytes()),
    ("legacy binary xgboost", "xgboost", lambda tmp: legacy_xgboost_bytes()),
    ("truncated torchscript", "torchscript", lambda tmp: (EXAMPLES / "mlp.pt").read_bytes()[:2000]),
    ("truncated xgboost json", "xgboost", lambda tmp: (EXAMPLES / "xgb_classifier.json").read_bytes()[:3000]),
    ("empty body", "onnx", lambda tmp: b""),
]


@pytest.mark.parametrize("label,fmt,make", REFUSED, ids=[r[0] for r in REFUSED])
def test_engine_refuses_422(server, tmp_path, label, fmt, make):
    name = "refused_" + hashlib.sha1(label.encode()).hexdigest()[:8]
    r = server.push(name, "1", make(tmp_path), fmt)
    if label == "empty body" and r.status_code == 400:
        check_json_error(r, 400)  # an empty upload may be refused before the engine sees it
    else:
        body = check_json_error(r, 422, f"{label} pushed as {fmt}")
        assert len(body["error"]) > 10, f"422 should carry the engine's message: {body}"
    listed = server.get("/v1/models", admin=True).json()["models"]
    assert not any(m["name"] == name for m in listed), f"refused model {name} was registered"
    check_json_error(server.get(f"/v2/models/{name}"), 404)


def test_pickle_is_refused_and_never_executed(server, tmp_path):
    marker = tmp_path / "pwned"
    r = server.push("pickle_bomb", "1", pickle_bomb_bytes(marker), "torchscript")
    check_json_error(r, 422, "a torch.save() pickle with a __reduce__ payload pushed as torchscript")
    assert not marker.exists(), "the pickle payload RAN on the server (marker file created)"


BAD_NAMES = ["bad name", "bad$name", "..", "a..b", "-leading", ".hidden", "_under", "x" * 129, "caf\u00e9",
             "semi;colon", "star*"]


def raw_push(server, name: str, version: str, query: str = "?format=torchscript"):
    """PUT with the target sent byte for byte (requests would normalise "..")."""
    target = f"/v1/models/{quote(name, safe='%')}/versions/{quote(version, safe='%')}{query}"
    raw = http_request_bytes("PUT", target, {**server.auth, "Content-Type": "application/octet-stream"},
                             (EXAMPLES / "mlp.pt").read_bytes())
    r = raw_request(server.admin_port, server.ca, raw)
    assert r is not None, f"PUT {target}: no HTTP response"
    return target, r


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_name_400(server, name):
    target, r = raw_push(server, name, "1")
    check_json_error(r, 400, f"model name {name!r}: PUT {target}")


def test_name_limits_ok(server):
    name = "A" + "b.-_9" * 25 + "zz"  # 128 characters, all allowed
    assert len(name) == 128
    r = server.push(name, "1", EXAMPLES / "mlp.pt", "torchscript")
    assert r.status_code == 201, f"a valid 128-character name was refused: {r.status_code} {r.text}"


@pytest.mark.parametrize("version", ["bad$ver", "v%201", "..", "x" * 1000, "a;b"])
def test_bad_version_400(server, version):
    target, r = raw_push(server, "version_probe", version)
    check_json_error(r, 400, f"version {version!r}: PUT {target}")


@pytest.mark.parametrize("query", ["?format=pickle", "?format=", "", "?format=ONNX%00", "?format=savedmodel"])
def test_bad_format_400(server, query):
    r = server.put(f"/v1/models/format_probe/versions/1{query}", data=(EXAMPLES / "mlp.pt").read_bytes(),
                   headers={"Content-Type": "application/octet-stream"})
    check_json_error(r, 400, f"PUT ...{query}")


def test_list_models(server):
    r = server.get("/v1/models", admin=True)
    assert r.status_code == 200, r.text
    models = r.json()["models"]
    by_key = {(m["name"], m["version"]): m for m in models}
    for name, file, fmt in EXAMPLE_MODELS:
        m = by_key.get((name, "1"))
        assert m is not None, f"{name}/1 not listed: {sorted(by_key)}"
        assert MODEL_FIELDS <= set(m), m
        data = (EXAMPLES / file).read_bytes()
        assert m["format"] == fmt and m["sha256"] == hashlib.sha256(data).hexdigest() and m["size_bytes"] == len(data), m
        assert m["created_by"] == "token:admin" and RFC3339.match(m["created_at"]), m


def test_delete(server):
    server.push_ok("doomed", "1", EXAMPLES / "mlp.pt", "torchscript")
    x, _ = reference_case("mlp_torch")
    assert server.infer("doomed", infer_body(x)).status_code == 200
    r = server.delete("/v1/models/doomed/versions/1")
    assert r.status_code == 200, f"DELETE -> {r.status_code} {r.text}"
    check_json_error(server.infer("doomed", infer_body(x)), 404, "infer after DELETE")
    check_json_error(server.infer("doomed", infer_body(x), version="1"), 404, "versioned infer after DELETE")
    check_json_error(server.get("/v2/models/doomed"), 404, "metadata after DELETE")
    check_json_error(server.delete("/v1/models/doomed/versions/1"), 404, "second DELETE")
    check_json_error(server.delete("/v1/models/never_was/versions/1"), 404, "DELETE of an unknown model")
    listed = server.get("/v1/models", admin=True).json()["models"]
    assert not any(m["name"] == "doomed" for m in listed), listed


def test_delete_one_version_keeps_the_other(server):
    server.push_ok("two_versions", "1", EXAMPLES / "mlp.pt", "torchscript")
    server.push_ok("two_versions", "2", EXAMPLES / "mlp.pt", "torchscript")
    assert server.delete("/v1/models/two_versions/versions/2").status_code == 200
    x, y = reference_case("mlp_torch")
    r = server.infer("two_versions", infer_body(x))
    assert r.status_code == 200, f"after deleting the latest version, the model should fall back to v1: {r.text}"
    assert r.json()["model_version"] == "1"
    check_json_error(server.infer("two_versions", infer_body(x), version="2"), 404)


# --------------------------------------------------------------------------- CLI


def test_cli_push_list_remove(server):
    flags = server.cli_flags()
    p = aegis("model", "push", "cli_model", "--version", "1", "--file", EXAMPLES / "mlp.onnx", "--format", "onnx",
              "--signature", server.bundle_file(EXAMPLES / "mlp.onnx"), "--json", *flags)
    assert p.returncode == 0, describe(p)
    j = json.loads(p.stdout)
    j = j.get("model", j) if isinstance(j.get("model"), dict) else j
    data = (EXAMPLES / "mlp.onnx").read_bytes()
    assert j["name"] == "cli_model" and j["version"] == "1" and j["sha256"] == hashlib.sha256(data).hexdigest(), j
    # Environment variables instead of flags.
    p = aegis("model", "push", "cli_model", "--version", "2", "--file", EXAMPLES / "mlp.pt", "--format",
              "torchscript", "--signature", server.bundle_file(EXAMPLES / "mlp.pt"), env=server.cli_env())
    assert p.returncode == 0, describe(p)
    p = aegis("model", "list", "--json", env=server.cli_env())
    assert p.returncode == 0, describe(p)
    models = json.loads(p.stdout)["models"]
    got = {(m["name"], m["version"]): m for m in models}
    assert ("cli_model", "1") in got and ("cli_model", "2") in got, sorted(got)
    for m in models:
        assert MODEL_FIELDS <= set(m), m
    assert got[("cli_model", "2")]["format"] == "torchscript"
    assert got[("cli_model", "2")]["signature"]["signer"] == "test-publisher", got[("cli_model", "2")]
    p = aegis("model", "list", *flags)
    assert p.returncode == 0 and "cli_model" in p.stdout and "test-publisher" in p.stdout, describe(p)
    p = aegis("model", "remove", "cli_model", "--version", "1", *flags)
    assert p.returncode == 0, describe(p)
    x, y = reference_case("mlp_torch")
    check_json_error(server.infer("cli_model", infer_body(x), version="1"), 404, "infer after `model remove`")
    r = server.infer("cli_model", infer_body(x), version="2")
    assert r.status_code == 200, r.text


def _other_ca(tmp_path):
    key, crt = tmp_path / "other.key", tmp_path / "other.crt"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=Other CA", "-days", "2", "-out",
                    crt], check=True, capture_output=True)
    return crt


def test_cli_failures(server, tmp_path):
    base = ["--server", f"https://127.0.0.1:{server.admin_port}", "--cacert", server.ca]
    push = ["model", "push", "cli_fail", "--version", "1", "--format", "torchscript", "--file", EXAMPLES / "mlp.pt"]
    signed_pt = ["--signature", server.bundle_file(EXAMPLES / "mlp.pt")]
    cases = {
        "wrong token": ["model", "list", *base, "--token", "nope"],
        "missing file": ["model", "push", "cli_fail", "--version", "1", "--format", "torchscript", "--file",
                         tmp_path / "absent.pt", *base, "--token", server.token],
        "bad format": ["model", "push", "cli_fail", "--version", "1", "--format", "pickle", "--file",
                       EXAMPLES / "mlp.pt", *base, "--token", server.token],
        "duplicate push": ["model", "push", "mlp_torch", "--version", "1", "--format", "torchscript", "--file",
                           EXAMPLES / "mlp.pt", *signed_pt, *base, "--token", server.token],
        "unsigned push": [*push, *base, "--token", server.token],
        "missing bundle file": [*push, "--signature", tmp_path / "absent.json", *base, "--token", server.token],
        "remove unknown": ["model", "remove", "never_was", "--version", "1", *base, "--token", server.token],
        "server down": ["model", "list", "--server", f"https://127.0.0.1:{free_port()}", "--cacert", server.ca,
                        "--token", server.token],
        "wrong CA": ["model", "list", "--server", f"https://127.0.0.1:{server.admin_port}", "--cacert",
                     _other_ca(tmp_path), "--token", server.token],
        "plain http": ["model", "list", "--server", f"http://127.0.0.1:{server.admin_port}", "--cacert", server.ca,
                       "--token", server.token],
        "wrong format for the content": ["model", "push", "cli_fail", "--version", "1", "--format", "onnx",
                                         "--file", EXAMPLES / "mlp.pt", *signed_pt, *base, "--token", server.token],
        "no token at all": ["model", "list", *base],
        "audit wrong token": ["audit", "show", *base, "--token", "nope"],
        "push without required flags": [*push[:3], *base, "--token", server.token],
    }
    failures = []
    for label, args in cases.items():
        p = aegis(*args, timeout=60)
        try:
            assert_one_line_error(p, "aegis: ")
        except AssertionError as e:
            failures.append(f"[{label}] {e}")
    assert not failures, "\n\n".join(failures)
    listed = server.get("/v1/models", admin=True).json()["models"]
    assert not any(m["name"] == "cli_fail" for m in listed), listed


# --------------------------------------------------------------------------- encryption at rest


def windows(data: bytes, count: int = 8, size: int = 64) -> list[bytes]:
    """Up to `count` 64-byte windows spread over the file, skipping low-entropy ones (zeros,
    padding) that could legitimately appear anywhere."""
    out = []
    if len(data) < size:
        return [data]
    step = max(1, (len(data) - size) // (count * 4))
    for off in range(0, len(data) - size + 1, step):
        w = data[off:off + size]
        if len(set(w)) >= 20:
            out.append(w)
        if len(out) >= count:
            break
    return out


def test_no_plaintext_model_bytes_on_disk(server):
    # Everything pushed so far: the examples and the probes; the blob store must exist.
    blobs = server.dir / "blobs"
    assert blobs.is_dir() and any(p.is_file() for p in blobs.rglob("*")), f"no blobs under {blobs}"
    needles, labels = [], []
    for _, file, _ in EXAMPLE_MODELS:
        data = (EXAMPLES / file).read_bytes()
        ws = windows(data)
        assert ws, file
        needles += ws
        labels += [file] * len(ws)
    needles.append(server.token.encode())
    labels.append("admin token")
    hits = find_in_tree(server.dir, needles)
    found = sorted({(path, labels[i]) for path, i in hits})
    assert not found, f"plaintext found under the data dir (file, what): {found}"


def test_blobs_hold_ciphertext_of_every_model(server):
    sizes = sorted(p.stat().st_size for p in (server.dir / "blobs").rglob("*") if p.is_file())
    for _, file, _ in EXAMPLE_MODELS:
        n = (EXAMPLES / file).stat().st_size
        assert any(s >= n for s in sizes), f"no blob as large as {file} ({n} bytes): {sizes}"


def test_token_not_in_server_logs(server):
    """DESIGN principle: no secret written to a log."""
    assert server.token not in server.log_text(), "admin token appears in the server's stdout/stderr"
