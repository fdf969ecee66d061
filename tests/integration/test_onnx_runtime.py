"""ONNX Runtime, the default ONNX engine (docs/worker-protocol.md, docs/confinement.md).

One installation for the module: real models exported by torch (onnx_models.py) are pushed
once and answer like torch does, for batch 1 and larger batches; every KServe datatype goes
through ONNX Identity nodes; `engine = "opencv"` selects OpenCV DNN per model; metadata says
which engine serves a version; shapes are checked before the runtime sees them. A worker
whose package is hostile JavaScript shows what the confinement leaves it: no KEK, no file
outside its root, no socket, no process.
"""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from aegis_testlib import EXAMPLES, Installation, output_array, stop_and_check
import onnx_models

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = REPO / "runtime" / "onnxruntime"
BATCHES = [1, 3]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    directory = tmp_path_factory.mktemp("onnx-models")
    made = onnx_models.make_models(directory)
    made["datatypes"] = (onnx_models.make_datatypes_model(directory), None, None)
    return made


@pytest.fixture(scope="module")
def ort_server(tmp_path_factory, models):
    inst = Installation(tmp_path_factory.mktemp("ort"))
    inst.init()
    # The same MLP on OpenCV DNN, selected per model name.
    with open(inst.config_path, "a") as f:
        f.write('\n[models."mlp_opencv"]\nengine = "opencv"\n')
    inst.start()
    try:
        for name, (path, _, _) in models.items():
            inst.push_ok(name, "1", path, "onnx")
        inst.push_ok("mlp_opencv", "1", EXAMPLES / "mlp.onnx", "onnx")
        inst.push_ok("mlp_default", "1", EXAMPLES / "mlp.onnx", "onnx")
        inst.wait_ready(60)
        yield inst
    finally:
        stop_and_check(inst)


def infer(server, name, inputs):
    body = {"inputs": [{"name": k, "datatype": datatype_of(v), "shape": list(v.shape),
                        "data": v.reshape(-1).tolist()} for k, v in inputs.items()]}
    r = server.infer(name, body)
    assert r.status_code == 200, f"{name}: {r.status_code} {r.text[:500]}"
    return {o["name"]: output_array(o) for o in r.json()["outputs"]}


def datatype_of(array):
    return {np.float32: "FP32", np.int64: "INT64"}[array.dtype.type]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", list(onnx_models.MODELS))
def test_outputs_equal_torch(ort_server, models, name, batch):
    _, module, outputs = models[name]
    inputs = onnx_models.inputs_for(name, batch)
    got = infer(ort_server, name, inputs)
    expected = onnx_models.reference(module, inputs)
    assert sorted(got) == sorted(outputs)
    for out, want in zip(outputs, expected):
        assert got[out].shape == want.shape, (name, out, got[out].shape, want.shape)
        if want.dtype.kind in "iu":
            assert np.array_equal(got[out], want), (name, out)
        else:
            np.testing.assert_allclose(got[out], want, rtol=1e-4, atol=1e-5, err_msg=f"{name}.{out} batch {batch}")


def test_metadata_comes_from_the_model(ort_server):
    meta = ort_server.get("/v2/models/two_in_two_out").json()
    assert meta["platform"] == "onnxruntime_onnx"
    assert [(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]] == [
        ("left", "FP32", [-1, 3]), ("right", "FP32", [-1, 5])]
    assert [(t["name"], t["datatype"], t["shape"]) for t in meta["outputs"]] == [
        ("mixed", "FP32", [-1, 4]), ("total", "FP32", [-1, 1])]
    ids = ort_server.get("/v2/models/embedder").json()["inputs"][0]
    assert (ids["datatype"], ids["shape"]) == ("INT64", [-1, 7])


def test_engine_is_selectable_per_model(ort_server):
    assert ort_server.get("/v2/models/mlp_default").json()["platform"] == "onnxruntime_onnx"
    assert ort_server.get("/v2/models/mlp_opencv").json()["platform"] == "onnx_opencv"
    ref = json.loads((EXAMPLES / "reference.json").read_text())
    outputs = {}
    for name in ("mlp_default", "mlp_opencv"):
        meta = ort_server.get(f"/v2/models/{name}").json()
        spec = meta["inputs"][0]
        x = np.array(ref["input"], dtype=np.float32) if "input" in ref else None
        if x is None:
            x = np.ones([1] + [d for d in spec["shape"][1:]], dtype=np.float32)
        r = ort_server.infer(name, {"inputs": [{"name": spec["name"], "datatype": "FP32", "shape": list(x.shape),
                                                "data": x.reshape(-1).tolist()}]})
        assert r.status_code == 200, r.text
        outputs[name] = [output_array(o) for o in r.json()["outputs"]]
    for a, b in zip(outputs["mlp_default"], outputs["mlp_opencv"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def datatype_values(datatype):
    if datatype == "BOOL":
        return [True, False, False, True]
    if datatype == "BYTES":
        return ["a", "", "ünïcode", "x" * 100]
    if datatype.startswith("FP"):
        return [0.5, -1.25, 1024.0, -0.0]
    info = np.iinfo({"UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
                     "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64}[datatype])
    return [int(info.min), int(info.max), 0, 1]


def test_every_kserve_datatype(ort_server):
    meta = ort_server.get("/v2/models/datatypes").json()
    declared = {t["name"]: t["datatype"] for t in meta["inputs"]}
    assert declared == {f"in_{n}": dt for n, dt, _ in onnx_models.DATATYPES}
    body = {"inputs": [{"name": f"in_{n}", "datatype": dt, "shape": [2, 2], "data": datatype_values(dt)}
                       for n, dt, _ in onnx_models.DATATYPES]}
    r = ort_server.infer("datatypes", body)
    assert r.status_code == 200, r.text[:500]
    outs = {o["name"]: o for o in r.json()["outputs"]}
    for n, dt, _ in onnx_models.DATATYPES:
        out = outs[f"out_{n}"]
        assert (out["datatype"], out["shape"]) == (dt, [2, 2]), out
        assert out["data"] == datatype_values(dt), (dt, out["data"])


@pytest.mark.parametrize("bad, why", [
    ({"name": "x", "datatype": "FP32", "shape": [2, 7], "data": [0.0] * 14}, "shape"),
    ({"name": "x", "datatype": "FP64", "shape": [1, 6], "data": [0.0] * 6}, "datatype"),
    ({"name": "y", "datatype": "FP32", "shape": [1, 6], "data": [0.0] * 6}, "name"),
    ({"name": "x", "datatype": "FP32", "shape": [6], "data": [0.0] * 6}, "rank"),
])
def test_shapes_are_checked_before_the_runtime(ort_server, bad, why):
    r = ort_server.infer("mlp", {"inputs": [bad]})
    assert r.status_code == 400, (why, r.status_code, r.text)
    assert "error" in r.json()


# --------------------------------------------------------------------------- confinement

HOSTILE = r"""
'use strict';
// Stands in for worker.js: what could code that took over the ONNX worker reach?
const fs = require('fs');
const results = {};
const attempt = (name, fn) => {
  try { results[name] = 'allowed: ' + String(fn()).slice(0, 80); } catch (e) { results[name] = 'refused: ' + (e.code || e.message); }
};
// Native code, as an exploit of ONNX Runtime would run it: a library whose
// constructor makes the raw system calls (past Node's permission model).
try { process.dlopen({ exports: {} }, __dirname + '/probe.node'); } catch (e) { /* not a Node module */ }
Object.assign(results, JSON.parse(process.env.AEGIS_PROBE || '{"native":"did not run"}'));
attempt('kek', () => fs.readFileSync(__KEK__).length);
attempt('data_dir', () => fs.readdirSync(__DATA__).join(','));
attempt('passwd', () => fs.readFileSync('/etc/passwd', 'utf8').length);
attempt('proc', () => fs.readdirSync('/proc').length);
attempt('write_package', () => fs.writeFileSync(__dirname + '/dropped', 'x'));
attempt('write_tmp', () => fs.writeFileSync('/tmp/aegis-hostile', 'x'));
attempt('own_package', () => fs.readFileSync(__filename, 'utf8').length);
attempt('child_process', () => require('child_process').execFileSync('/usr/bin/id').toString());
const net = require('net');
const sockets = [];
const tryConnect = (name, options) => new Promise((resolve) => {
  const s = net.connect(options);
  const done = (what) => { results[name] = what; s.destroy(); resolve(); };
  s.on('connect', () => done('allowed: connected'));
  s.on('error', (e) => done('refused: ' + (e.code || e.message)));
  setTimeout(() => done('refused: timeout'), 3000);
});
(async () => {
  await tryConnect('tcp_server', { host: '127.0.0.1', port: __PORT__ });
  await tryConnect('unix_socket', { path: '/run/systemd/private' });
  const frame = (type, obj) => {
    const p = Buffer.from(JSON.stringify(obj));
    const h = Buffer.alloc(5); h.writeUInt32LE(p.length + 1, 0); h[4] = type;
    fs.writeSync(3, Buffer.concat([h, p]));
  };
  frame(1, { protocol: 1, pid: process.pid, engine: 'onnx', transport: 'stream' });
  frame(3, { stage: 'load', error: 'HOSTILE ' + JSON.stringify(results), detail: '' });
  process.exit(3);
})();
"""


PROBE_C = r"""
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char out[4096];
static int len;
static void note(const char* what, int ok, int err) {
  len += snprintf(out + len, sizeof out - len, "%s\"%s\":\"%s %s\"", len > 1 ? "," : "", what,
                  ok ? "allowed:" : "refused:", ok ? "" : strerror(err));
}

__attribute__((constructor)) static void probe(void) {
  len = snprintf(out, sizeof out, "{");
  int fd = open(KEK, O_RDONLY);
  note("native_kek", fd >= 0, errno);
  fd = open(DATA, O_RDONLY | O_DIRECTORY);
  note("native_data_dir", fd >= 0, errno);
  fd = open("/etc/passwd", O_RDONLY);
  note("native_passwd", fd >= 0, errno);
  fd = open(PACKAGE "/native_dropped", O_WRONLY | O_CREAT, 0644);
  note("native_write_package", fd >= 0, errno);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  note("native_tcp_socket", s >= 0, errno);
  s = socket(AF_UNIX, SOCK_STREAM, 0);
  note("native_unix_socket", s >= 0, errno);
  void* p = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  note("native_wx_memory", p != MAP_FAILED, errno);
  char* argv[] = {"/usr/bin/id", 0};
  execv("/usr/bin/id", argv);
  note("native_exec", 0, errno);
  snprintf(out + len, sizeof out - len, "}");
  setenv("AEGIS_PROBE", out, 1);
}
"""


def build_probe(package, kek, data_dir, tmp_path):
    source = tmp_path / "probe.c"
    source.write_text(PROBE_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", f"-DKEK={json.dumps(str(kek))}",
                    f"-DDATA={json.dumps(str(data_dir))}", f"-DPACKAGE={json.dumps(str(package))}",
                    "-o", str(package / "probe.node"), str(source)], check=True, capture_output=True)


def test_a_hostile_onnx_worker_reaches_nothing(tmp_path):
    inst = Installation(tmp_path / "inst")
    inst.init()
    kek = next(p for p in (inst.dir / "keys").iterdir() if p.is_file())
    package = tmp_path / "hostile"
    (package / "node_modules" / "onnxruntime-node").mkdir(parents=True)
    (package / "node_modules" / "onnxruntime-node" / "package.json").write_text("{}")
    inst.set_config("runtime", "onnxruntime_dir", str(package))
    build_probe(package, kek, inst.dir, tmp_path)
    script = (HOSTILE.replace("__KEK__", json.dumps(str(kek))).replace("__DATA__", json.dumps(str(inst.dir)))
              .replace("__PORT__", str(inst.data_port)))
    (package / "worker.js").write_text(script)
    inst.start()
    try:
        r = inst.push("probe", "1", EXAMPLES / "mlp.onnx", "onnx")
        assert r.status_code == 422, r.text
        message = r.json()["error"]
        results = json.loads(message[message.index("HOSTILE ") + len("HOSTILE "):])
        print(json.dumps(results, indent=1))
        assert results["own_package"].startswith("allowed"), results  # the probe did run
        for what in ("kek", "data_dir", "passwd", "proc", "write_package", "write_tmp", "child_process",
                     "tcp_server", "unix_socket", "native_kek", "native_data_dir", "native_passwd",
                     "native_write_package", "native_tcp_socket", "native_unix_socket", "native_wx_memory",
                     "native_exec"):
            assert results.get(what, "missing").startswith("refused"), (what, results)
        assert not (package / "dropped").exists() and not (package / "native_dropped").exists()
    finally:
        stop_and_check(inst)


def test_a_missing_package_is_one_clear_line_at_start(tmp_path):
    inst = Installation(tmp_path / "inst")
    inst.init()
    inst.set_config("runtime", "onnxruntime_dir", str(tmp_path / "nowhere"))
    inst.start(wait=False)
    rc = inst.proc.wait(60)
    assert rc != 0
    log = inst.log_text()
    assert "make onnxruntime" in log and "ONNX Runtime is not installed" in log, log[-2000:]
