"""The scanner reads TorchScript programs and validates XGBoost and ONNX structure
before any engine sees a model (issue 12, part 1).

Corpora come from tests/integration/torchscript_corpus.py, generated here with
Debian's python3-torch: real models that must scan clean, push and serve with the
outputs torch itself computes, and hostile programs (several shown to steal a
planted secret or overwrite a planted file in plain torch) that `aegis scan` must
report with the operator and its location, and that a signed push must refuse with
422 naming the operator, before any engine loads them. Broken XGBoost and ONNX
models are made from the examples.
"""

import json
import pathlib
import struct
import zipfile

import numpy as np
import onnx
import pytest
import torch

from aegis_testlib import EXAMPLES, aegis, check_json_error, output_array, tensor_json
from torchscript_corpus import SECRET, benign, examples, hostile, inputs_for

@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("torchscript-corpus")
    return benign(root / "benign"), hostile(root / "hostile")


def scan_json(path):
    result = aegis("scan", path, "--json")
    return result.returncode, json.loads(result.stdout)


def scan_folder(path) -> dict:
    """One `aegis scan DIR --json` (the binary takes seconds to start here): file name -> report."""
    result = aegis("scan", path, "--json")
    assert result.returncode in (0, 1, 2), result.stderr
    return {pathlib.Path(r["path"]).name: r for r in json.loads(result.stdout)}


def refused(server, name, r, fragment):
    """A 422 integrity refusal naming `fragment`; nothing registered; the server still up."""
    body = check_json_error(r, 422, name)
    assert body["error"].startswith("integrity check failed: "), body
    assert fragment in body["error"], f"expected {fragment!r} in {body['error']!r}"
    listed = server.get("/v1/models", admin=True).json()["models"]
    assert not any(m["name"] == name for m in listed), f"refused model {name} was registered"
    assert server.get("/v2/health/live", token=False).status_code == 200
    return body


# --------------------------------------------------------------------------- TorchScript


def test_benign_corpus_and_examples_have_no_findings(corpora):
    good, _ = corpora
    reports = scan_folder(next(iter(good.values())).parent)
    samples = examples(EXAMPLES.parent)
    reports.update({name: r for name, r in scan_folder(EXAMPLES).items() if name.endswith(".pt")})
    assert len(good) == 14 and len(samples) == 3 and len(reports) == 17, sorted(reports)
    for name, report in reports.items():
        assert (report["format"], report["findings"]) == ("torchscript", []), json.dumps(report, indent=1)


def test_hostile_corpus_is_caught_with_operator_and_location(corpora):
    _, bad = corpora
    assert len(bad) == 31
    # Not scanner bait: these run in plain libtorch and do what they claim.
    assert sum(h.runs for h in bad) >= 14, [h.name for h in bad if h.runs]
    reports = scan_folder(bad[0].path.parent)
    for h in bad:
        report = reports[h.path.name]
        assert report["format"] == "torchscript" and not report["clean"], (h.name, report)
        matches = [f for f in report["findings"]
                   if h.reason in f["reason"] and (not h.callable or f["callable"] == h.callable)]
        assert matches, f"{h.name}: no finding {h.callable!r} / {h.reason!r} in {json.dumps(report, indent=1)}"
        finding = matches[0]
        assert finding["severity"] == h.severity, (h.name, finding)
        location = finding["location"].removeprefix(h.path.name + ": ")  # folder scans prefix the file
        assert location.startswith("zip entry '"), (h.name, finding)
        if finding["reason"].startswith("TorchScript code "):
            assert " line " in location, (h.name, finding)
            assert h.callable in finding["reason"], (h.name, finding)


def test_human_output_names_operator_and_line(corpora):
    _, bad = corpora
    path = next(h.path for h in bad if h.name == "from_file_read")
    with zipfile.ZipFile(path) as z:
        member = next(n for n in z.namelist() if n.endswith(".py") and b"torch.from_file" in z.read(n))
        line = 1 + z.read(member).decode().split("torch.from_file")[0].count("\n")
    result = aegis("scan", path)
    assert result.returncode == 1
    assert (f"CRITICAL  zip entry '{member}' line {line}: TorchScript code calls aten::from_file, "
            "which reads or writes a file by path") in result.stdout, result.stdout


def test_hostile_models_are_refused_at_push_before_any_engine(server, corpora):
    _, bad = corpora
    victim = bad[0].path.parent / "victim.db"
    victim.write_bytes(b"x" * len(SECRET))
    for h in bad:
        name = f"hostile_{h.name}"
        r = server.push(name, "1", h.path, "torchscript")  # validly signed by a trusted publisher
        body = refused(server, name, r, h.callable or h.reason)
        assert "scanner found" in body["error"], body
        if h.callable.startswith("aten::") and h.severity == "critical":
            assert body["error"].count("critical") >= 1, body
    assert victim.read_bytes() == b"x" * len(SECRET), "an engine ran a hostile model"
    audit = server.wait_audit(lambda e: e.get("action") == "model.push" and "hostile_from_file_read" in
                              e.get("resource", "") and e.get("status") == 422, what="refused push")
    assert audit["decision"] == "deny" and "aten::from_file" in audit["reason"], audit


def test_benign_models_push_and_serve_torchs_own_outputs(server, corpora):
    good, _ = corpora
    for name, path in good.items():
        model = f"benign_{name}"
        server.push_ok(model, "1", path, "torchscript")
        meta = server.get(f"/v2/models/{model}").json()
        arrays = inputs_for(name)
        assert len(meta["inputs"]) == len(arrays), meta
        body = {"inputs": [tensor_json(spec["name"], a) for spec, a in zip(meta["inputs"], arrays)]}
        r = server.infer(model, body)
        assert r.status_code == 200, (name, r.status_code, r.text[:400])
        with torch.no_grad():
            expected = torch.jit.load(str(path)).eval()(*[torch.from_numpy(a) for a in arrays])
        if isinstance(expected, torch.Tensor):
            expected = [expected]
        outputs = r.json()["outputs"]
        assert len(outputs) == len(expected), (name, [o["name"] for o in outputs])
        for got, want in zip(outputs, expected):
            np.testing.assert_allclose(output_array(got).astype(np.float64), want.numpy().astype(np.float64),
                                       rtol=1e-4, atol=1e-5, err_msg=f"{name} {got['name']}")


# --------------------------------------------------------------------------- XGBoost


def xgb_ubj(value) -> bytes:
    """UBJ as libxgboost writes it: uncounted objects, typed numeric arrays."""
    def length(n):
        return b"L" + struct.pack(">q", n)
    if isinstance(value, dict):
        return b"{" + b"".join(length(len(k)) + k.encode() + xgb_ubj(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        if value and all(isinstance(e, int) and not isinstance(e, bool) for e in value):
            return b"[$l#" + length(len(value)) + b"".join(struct.pack(">i", e) for e in value)
        if value and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in value):
            return b"[$d#" + length(len(value)) + b"".join(struct.pack(">f", e) for e in value)
        return b"[#" + length(len(value)) + b"".join(xgb_ubj(e) for e in value)
    if isinstance(value, str):
        return b"S" + length(len(value.encode())) + value.encode()
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"L" + struct.pack(">q", value)
    return b"d" + struct.pack(">f", value)


def broken_xgboost():
    def model():
        return json.loads((EXAMPLES / "xgb_classifier.json").read_text())

    def tree(m, i):
        return m["learner"]["gradient_booster"]["model"]["trees"][i]
    cases = []
    m = model()
    tree(m, 5)["left_children"][1] = 99
    cases.append(("xgb_child_out_of_range", m, "child index 99 is outside the tree"))
    m = model()
    tree(m, 0)["right_children"][0] = -7  # the engine's walk would never end
    cases.append(("xgb_negative_child", m, "child index -7 is outside the tree"))
    m = model()
    t = tree(m, 7)
    on_path, node = set(), 0  # the nodes an all-zero input (the push-time probe) visits
    while t["left_children"][node] != -1:
        on_path.add(node)
        node = t["left_children"][node] if 0 < t["split_conditions"][node] else t["right_children"][node]
    off = next(i for i, left in enumerate(t["left_children"]) if left != -1 and i not in on_path)
    t["left_children"][off] = 999
    cases.append(("xgb_bad_node_off_probe_path", m, "child index 999 is outside the tree"))
    m = model()
    t = tree(m, 0)
    t["left_children"][3], t["right_children"][3] = 1, 2  # a leaf pointing back up the tree
    cases.append(("xgb_cycle", m, "parent is 0, not 3"))
    m = model()
    m["learner"]["learner_model_param"]["num_feature"] = str(2 ** 27)
    cases.append(("xgb_huge_num_feature", m, "num_feature is 134217728"))
    m = model()
    tree(m, 3)["split_indices"][0] = 4
    cases.append(("xgb_feature_out_of_range", m, "splits on feature 4; the model has 4"))
    m = model()
    m["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "100000000"
    cases.append(("xgb_tree_count", m, "100000000 trees cannot fit"))
    return cases


@pytest.mark.parametrize("encoding", ["json", "ubj"])
def test_broken_xgboost_models_are_refused_with_the_reason(server, tmp_path, encoding):
    cases = broken_xgboost()
    for name, model, _ in cases:
        data = json.dumps(model).encode() if encoding == "json" else xgb_ubj(model)
        (tmp_path / f"{name}.{encoding}").write_bytes(data)
    reports = scan_folder(tmp_path)
    for name, _, reason in cases:
        path = tmp_path / f"{name}.{encoding}"
        report = reports[path.name]
        assert report["format"] == f"xgboost-{encoding}", report
        assert any(reason in f["reason"] for f in report["findings"]), (name, report)
        refused(server, f"{name}_{encoding}", server.push(f"{name}_{encoding}", "1", path, "xgboost"), reason)
    # What libxgboost itself wrote still passes and serves.
    assert scan_json(EXAMPLES / f"xgb_classifier.{encoding}")[0] == 0
    r = server.infer("xgb", {"inputs": [tensor_json("input", np.zeros((1, 4), np.float32))]})
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- ONNX


def test_onnx_initializers_must_match_their_shape(server, tmp_path):
    def mutated(edit):
        model = onnx.load(str(EXAMPLES / "mlp.onnx"))
        edit(model.graph.initializer[0])
        return model.SerializeToString()

    def grow(t):  # OpenCV read past this raw_data and crashed
        t.dims[:] = [1000, 1000]

    def negative(t):
        t.dims[0] = -1

    def huge(t):
        t.dims[:] = [1 << 31]

    cases = [("onnx_short_raw_data", grow, "raw_data holds"), ("onnx_negative_dim", negative, "is negative"),
             ("onnx_dim_too_big", huge, "does not fit in 32 bits")]
    for name, edit, _ in cases:
        (tmp_path / f"{name}.onnx").write_bytes(mutated(edit))
    reports = scan_folder(tmp_path)
    for name, _, reason in cases:
        report = reports[f"{name}.onnx"]
        finding = next(f for f in report["findings"] if reason in f["reason"])
        location = finding["location"].removeprefix(f"{name}.onnx: ")
        assert finding["severity"] == "critical" and location.startswith("graph.initializer '"), finding
        refused(server, name, server.push(name, "1", tmp_path / f"{name}.onnx", "onnx"), reason)
    assert server.infer("mlp_onnx", {"inputs": [tensor_json("input", np.zeros((1, 4), np.float32))]}).status_code == 200
