"""Confined model execution (issue 12): model code runs only in engine worker
processes that cannot reach the server's secrets, and nothing a model does can
take the server down or stall other models.

Two halves:
- the harness (`aegis_run_model`, built next to aegis) runs hostile models the
  way the server does after its checks, but without them (no signature, no
  scanner), to show that what the checks would stop is still contained;
- a real `aegis serve` with models that pass every check but are stuck, slow or
  hungry on a crafted input, and workers killed from outside.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import requests

import confinement_models as cm
from aegis_testlib import (AEGIS_BIN, EXAMPLES, Installation, infer_body, push_examples, reference_case,
                           stop_and_check)

RUN_MODEL = str(pathlib.Path(AEGIS_BIN).parents[2] / "tests" / "tools" / "aegis_run_model")
SECRET = b"AEGIS-TEST-KEK-4f1c9e2b7a6d5c3e"


def _world_readable_copy(files: list[pathlib.Path]) -> list[pathlib.Path]:
    """Copies for an unprivileged run: pytest's temporary folders (and perhaps the
    checkout) are private to root."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="aegis-nobody-"))
    folder.chmod(0o755)
    out = []
    for f in files:
        target = folder / f.name
        shutil.copy2(f, target)
        target.chmod(0o755)
        out.append(target)
    return out


def run_model(fmt: str, model: pathlib.Path, request: dict | None = None, *extra, as_nobody: bool = False,
              tmp: pathlib.Path | None = None) -> dict:
    req = None
    if request is not None:
        req = (tmp or model.parent) / "request.json"
        req.write_text(json.dumps(request))
    tool = pathlib.Path(RUN_MODEL)
    if as_nobody:
        tool, model, *rest = _world_readable_copy([tool, model] + ([req] if req else []))
        req = rest[0] if rest else None
    args = [str(tool), "--format", fmt, "--model", str(model), *map(str, extra)]
    if req is not None:
        args += ["--request", str(req)]
    if as_nobody:
        args = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{args}\nexit {proc.returncode}\nstdout {proc.stdout}\nstderr {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def x_request(value: float) -> dict:
    return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [value]}]}


@pytest.fixture(scope="module")
def secret_dir(tmp_path_factory):
    """A secret the worker's user could read (world-readable, in a world-readable
    folder): only the sandbox itself can keep a model out of it."""
    folder = tmp_path_factory.mktemp("secrets")
    folder.chmod(0o755)
    secret = folder / "kek.key"
    secret.write_bytes(SECRET)
    secret.chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    folder.chmod(0o755)
    return folder


def test_harness_is_built():
    assert os.access(RUN_MODEL, os.X_OK), f"{RUN_MODEL} missing: build with `make build`"


# --------------------------------------------------------------------------- hostile models, checks bypassed


@pytest.mark.parametrize("as_nobody", [False, True], ids=["root", "unprivileged"])
def test_model_cannot_read_a_secret_and_is_reported(secret_dir, models, as_nobody):
    secret = secret_dir / "kek.key"
    model = cm.read_file_model(models / f"read-{as_nobody}.pt", str(secret), len(SECRET))
    out = run_model("torchscript", model, x_request(1), as_nobody=as_nobody, tmp=models)
    assert out["load"]["ok"], out
    result = out["results"][0]
    assert not result["ok"] and result["error"] == "inference failed", result
    assert SECRET.hex() not in json.dumps(out)
    # The attempt is stopped by seccomp and reported, naming the system call.
    assert {"kind": "sandbox_violation", "detail": "system call openat"} in out["events"], out["events"]
    assert out["stats"]["sandbox_violations"] >= 1
    # On record before the request that caused it was answered, whichever thread
    # answered it (the harness submits from an event loop, as the server's I/O
    # threads do, and that loop watches the worker's responses).
    assert result["events_before"] >= 1, result
    conf = out["confinement"]
    for layer in ("net_ns", "mount_ns", "pid_ns", "private_root", "unprivileged", "no_new_privs", "rlimits",
                  "seccomp_load", "seccomp_serve"):
        assert conf[layer] is True, (layer, conf)
    assert conf["user_ns"] is as_nobody  # root drops to nobody instead


def test_model_cannot_read_the_installations_kek(tmp_path, models):
    """The real thing: an installation's KEK, made world-readable for the test."""
    inst = Installation(tmp_path)
    inst.init()
    kek = inst.dir / "keys" / "kek.key"
    for p in (tmp_path, inst.dir, inst.dir / "keys"):
        p.chmod(0o755)
    kek.chmod(0o644)
    data = kek.read_bytes()
    model = cm.read_file_model(models / "kek.pt", str(kek), len(data))
    out = run_model("torchscript", model, x_request(1), tmp=models)
    assert out["results"][0]["error"] == "inference failed"
    assert data.hex() not in json.dumps(out)
    assert any(e["kind"] == "sandbox_violation" for e in out["events"])


@pytest.mark.parametrize("path", ["/proc/self/environ", "/proc/self/maps", "/proc/1/environ", "/etc/shadow",
                                  "/etc/passwd"])
def test_model_cannot_read_system_files(models, path):
    model = cm.read_file_model(models / f"sys-{abs(hash(path))}.pt", path, 16)
    out = run_model("torchscript", model, x_request(1), tmp=models)
    assert out["results"][0]["error"] == "inference failed", out
    assert any(e["kind"] == "sandbox_violation" for e in out["events"])


def test_model_cannot_write_a_file(models, tmp_path):
    folder = tmp_path / "target"
    folder.mkdir()
    folder.chmod(0o777)
    target = folder / "planted.bin"
    model = cm.write_file_model(models / "write.pt", str(target))
    out = run_model("torchscript", model, x_request(1), tmp=models)
    assert out["results"][0]["error"] == "inference failed"
    assert not target.exists()
    assert any(e["kind"] == "sandbox_violation" for e in out["events"])


def test_model_cannot_read_a_secret_while_loading(secret_dir, models):
    """__setstate__ runs while the engine loads, before the final lockdown: the
    private root (and Landlock) keep the file out of reach then."""
    model = cm.load_time_read_model(models / "setstate.pt", str(secret_dir / "kek.key"), len(SECRET))
    out = run_model("torchscript", model, x_request(1), tmp=models)
    assert SECRET.hex() not in json.dumps(out)
    assert not out["load"]["ok"]
    assert "libtorch refused the TorchScript model" in out["load"]["error"]


def test_engine_crash_at_load_is_contained(models):
    """The ONNX initializer that lies about its size crashed the server (SIGSEGV in
    OpenCV); in a worker it is a refusal with a reason."""
    model = cm.onnx_lying_initializer(models / "lying.onnx")
    out = run_model("onnx", model, None, "--engine", "opencv", tmp=models)
    assert not out["load"]["ok"]
    assert re.search(r"engine worker stopped while loading the model .*signal 11 \(SIGSEGV\)", out["load"]["error"]), out
    # ONNX Runtime (the default engine) checks the initializer and refuses the model.
    out = run_model("onnx", model, None, tmp=models)
    assert not out["load"]["ok"]
    assert "ONNX Runtime refused the model" in out["load"]["error"], out


def test_stuck_model_is_killed_at_its_deadline_and_restarted(models):
    model = cm.slow_model(models / "slow.pt")
    started = time.monotonic()
    out = run_model("torchscript", model, x_request(1e12), "--timeout-ms", 800, "--repeat", 2, tmp=models)
    elapsed = time.monotonic() - started
    assert [r["error"] for r in out["results"]] == ["inference did not finish within 800 ms"] * 2
    assert [r["status"] for r in out["results"]] == ["unavailable"] * 2
    kinds = [e["kind"] for e in out["events"]]
    assert kinds.count("worker_timed_out") == 2 and "worker_restarted" in kinds, kinds
    assert elapsed < 30


def test_memory_cap_turns_an_allocation_into_an_error(models):
    model = cm.hungry_model(models / "hungry.pt")
    out = run_model("torchscript", model, x_request(4e9), "--memory-limit-mb", 1024, tmp=models)
    assert out["results"][0]["error"] == "inference failed", out
    # Small inputs still work on the same model: the cap is per worker, not a ban.
    out = run_model("torchscript", model, x_request(3), "--memory-limit-mb", 1024, tmp=models)
    assert out["results"][0]["ok"], out


# --------------------------------------------------------------------------- a real server


def start_installation(root: pathlib.Path, push_examples_too: bool = True, configure=None) -> Installation:
    """init + `configure(inst)` (aegis.toml edits) + serve (+ the example models)."""
    inst = Installation(root)
    inst.init()
    if configure is not None:
        configure(inst)
    inst.start()
    try:
        if push_examples_too:
            push_examples(inst, None)
            inst.wait_ready(60)
    except BaseException:
        inst.kill()
        raise
    return inst


def _children(pid: int) -> list[int]:
    out = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        out += [int(c) for c in children]
    return out


def _status(pid: int) -> dict:
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _engine_processes(server_pid: int) -> list[int]:
    """Every process of every engine worker: the first process of each PID
    namespace and the engine inside it."""
    procs = []
    for first in _children(server_pid):
        procs.append(first)
        procs += _children(first)
    return procs


def _cpu_ticks(pid: int) -> int:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _busiest(pids, interval: float = 1.0) -> int:
    """The process that used the most CPU over `interval` (a spinning engine)."""
    start = {p: _cpu_ticks(p) for p in pids}
    time.sleep(interval)
    return max(pids, key=lambda p: _cpu_ticks(p) - start[p])


def _engines(server_pid: int) -> list[int]:
    """The engine processes (the ones that hold a model): grandchildren."""
    return [p for first in _children(server_pid) for p in _children(first)]


@pytest.fixture(scope="module")
def confined(tmp_path_factory, models):
    """A server with the example models and three that pass every check but
    misbehave on a crafted input."""
    inst = start_installation(tmp_path_factory.mktemp("confined"), configure=_configure)
    inst.push_ok("slow", "1", cm.slow_model(models / "srv-slow.pt"), "torchscript")
    inst.push_ok("hungry", "1", cm.hungry_model(models / "srv-hungry.pt"), "torchscript")
    inst.push_ok("victim", "1", cm.slow_model(models / "srv-victim.pt"), "torchscript")
    yield inst
    stop_and_check(inst)


def _configure(inst: Installation):
    with open(inst.config_path, "a") as f:
        f.write('\n[models."slow"]\ninstances = 1\nrequest_timeout_ms = 1500\n'
                '\n[models."hungry"]\ninstances = 1\nmemory_limit_mb = 1024\n'
                '\n[models."victim"]\ninstances = 1\nrequest_timeout_ms = 20000\n')


def test_every_worker_is_confined(confined):
    procs = _engine_processes(confined.proc.pid)
    engines = _engines(confined.proc.pid)
    # 5 example models x 2 instances + 3 x 1, each: a namespace's first process + its engine.
    assert len(engines) == 13, engines
    assert len(procs) == 26, procs
    server_net = os.readlink(f"/proc/{confined.proc.pid}/ns/net")
    for pid in procs:
        status = _status(pid)
        assert status["Seccomp"] == "2", (pid, status["Seccomp"])
        assert status["NoNewPrivs"] == "1", (pid, status["NoNewPrivs"])
        assert status["CapEff"] == "0000000000000000", (pid, status["CapEff"])
        assert status["CapBnd"] == "0000000000000000", (pid, status["CapBnd"])
        assert os.readlink(f"/proc/{pid}/ns/net") != server_net
        node = pathlib.Path(f"/proc/{pid}/exe").resolve().name == "node"
        # The ONNX Runtime worker (node) gets one variable: libuv must not use io_uring.
        assert pathlib.Path(f"/proc/{pid}/environ").read_bytes() == (b"UV_USE_IO_URING=0\0" if node else b"")
    for pid in engines:
        fds = sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
        targets = " ".join(os.readlink(f"/proc/{pid}/fd/{f}") for f in fds)
        if pathlib.Path(f"/proc/{pid}/exe").resolve().name == "node":
            # Stdio and the control socket (the model was read and closed); what node
            # opened itself is its event loop: no file.
            assert fds[:4] == [0, 1, 2, 3], (pid, fds)
            for f in fds[4:]:
                assert os.readlink(f"/proc/{pid}/fd/{f}").startswith(("anon_inode:", "pipe:")), targets
        else:
            # No descriptor but the protocol's: stdio, control, model, arena, two eventfds.
            assert fds == list(range(8)), (pid, fds)
        for forbidden in ("aegis.db", "kek", "audit", "server.key", "segment-"):
            assert forbidden not in targets, targets
        if os.geteuid() == 0:
            assert _status(pid)["Uid"].split()[0] == "65534"


def _maps_libtorch(pid: int) -> bool:
    return "libtorch_cpu" in pathlib.Path(f"/proc/{pid}/maps").read_text()


def test_only_torchscript_engines_map_libtorch(confined):
    """libtorch is a module loaded by the engines that run TorchScript: the server
    process, and the engines of the other formats, never map its code."""
    assert not _maps_libtorch(confined.proc.pid)
    formats = {}
    for pid in _engines(confined.proc.pid):
        argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        fmt = argv[argv.index(b"--format") + 1].decode() if b"--format" in argv else "?"
        formats.setdefault(fmt, []).append(_maps_libtorch(pid))
    assert set(formats) >= {"torchscript", "onnx", "xgboost"}, formats
    assert all(formats["torchscript"]), formats
    assert not any(m for fmt, maps in formats.items() if fmt != "torchscript" for m in maps), formats


def test_benign_models_raise_no_sandbox_violation(confined):
    """The example models, served many times, never trip the filter: a report
    must mean a model reached for something, or operators learn to ignore it."""
    for model in ("mlp_torch", "mlp_onnx", "xgb", "xgb_ubj"):
        x, y = reference_case(model)
        for _ in range(5):
            r = confined.infer(model, infer_body(x))
            assert r.status_code == 200, r.text
    time.sleep(0.5)
    violations = [e for e in confined.audit_events() if e.get("action") == "runtime.sandbox_violation"
                  and not e.get("resource", "").startswith(("model:hungry/", "model:slow/", "model:victim/"))]
    assert violations == [], violations


def test_a_stuck_model_delays_only_itself(confined):
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e12]}]}
    stuck = {}

    def call():
        started = time.monotonic()
        r = confined.infer("slow", body, timeout=60)
        stuck["response"] = r
        stuck["ended"] = time.monotonic()
        stuck["seconds"] = stuck["ended"] - started

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    # While it spins (one of the machine's cores), every other model answers quickly: none
    # waits for the stuck one, which would take until its 1.5 s deadline.
    example = json.loads((EXAMPLES / "reference.json").read_text())["mlp"]
    times, first_served = [], None
    for _ in range(20):
        started = time.monotonic()
        r = confined.infer("mlp_onnx", {"inputs": example["inputs"]})
        times.append(time.monotonic() - started)
        first_served = first_served or time.monotonic()
        assert r.status_code == 200, r.text
    thread.join(30)
    times.sort()
    assert times[len(times) // 2] < 0.1 and times[-1] < 0.5, f"another model took {times} while one was stuck"
    assert first_served < stuck["ended"], "the other model was not served while the stuck one waited"
    r = stuck["response"]
    assert r.status_code == 503 and r.json() == {"error": "inference did not finish within 1500 ms"}, r.text
    assert r.headers.get("Retry-After") == "1"
    assert 1.4 < stuck["seconds"] < 10
    event = confined.wait_audit(lambda e: e.get("action") == "runtime.worker_timed_out"
                                and e.get("resource") == "model:slow/versions/1", what="timeout event")
    assert event["decision"] == "deny" and "1500 ms" in event["reason"]
    # The worker comes back, and the model serves again.
    deadline = time.monotonic() + 30
    while confined.get("/v2/models/slow/ready").status_code != 200:
        assert time.monotonic() < deadline, "the slow model never came back"
        time.sleep(0.1)
    assert confined.infer("slow", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [2]}]}
                          ).json()["outputs"][0]["data"] == [4.0]


def test_a_worker_killed_mid_request_fails_only_that_request(confined):
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e12]}]}
    before = set(_engines(confined.proc.pid))
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", confined.infer("victim", body, timeout=30)))
    thread.start()
    # The victim's engine is the one burning CPU while the request runs.
    time.sleep(0.5)
    victim = _busiest(before)
    # The engine is the init process of its PID namespace, so only SIGKILL reaches
    # it from outside (the way the OOM killer or an operator would end it).
    os.kill(victim, signal.SIGKILL)
    thread.join(30)
    r = result["r"]
    assert r.status_code == 500 and r.json() == {"error": "inference failed"}, r.text
    assert confined.alive()
    event = confined.wait_audit(lambda e: e.get("action") == "runtime.worker_crashed"
                                and e.get("resource") == "model:victim/versions/1", what="crash event")
    assert "SIGKILL" in event["reason"], event
    example = json.loads((EXAMPLES / "reference.json").read_text())["mlp"]
    assert confined.infer("mlp_onnx", {"inputs": example["inputs"]}).status_code == 200


def test_a_model_over_its_memory_cap_fails_its_request_only(confined):
    rss_before = int(_status(confined.proc.pid)["VmRSS"].split()[0])
    r = confined.infer("hungry", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [4e9]}]})
    assert r.status_code == 500 and r.json() == {"error": "inference failed"}, r.text
    rss_after = int(_status(confined.proc.pid)["VmRSS"].split()[0])
    assert rss_after - rss_before < 50 * 1024, "the server's own memory grew"
    ok = confined.infer("hungry", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [3]}]})
    assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [3.0]


def test_engine_messages_stay_in_the_log(confined):
    """A wrong input width: the client learns it does not fit, not the weights' shapes."""
    r = confined.infer("mlp_torch", {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3],
                                                 "data": [1, 2, 3]}]})
    assert r.status_code == 400 and r.json() == {"error": "the input does not fit the model"}, r.text
    request_id = None
    deadline = time.monotonic() + 5
    while request_id is None and time.monotonic() < deadline:
        m = re.search(r"request (\w+): model mlp_torch/1: the input does not fit the model.*shapes cannot be multiplied",
                      confined.log_text())
        request_id = m.group(1) if m else None
        time.sleep(0.1)
    assert request_id, confined.log_tail()


def test_metrics_show_the_runtime(confined):
    text = confined.get("/metrics", admin=True).text
    assert 'aegis_runtime_isolation{mode="process"} 1' in text
    assert 'aegis_model_workers_up{model="mlp_onnx",version="1"} 2' in text
    assert re.search(r'aegis_runtime_events_total\{event="worker_timed_out"\} [1-9]', text)


# --------------------------------------------------------------------------- failure modes of the server


def test_repeated_failures_withdraw_the_version(tmp_path, models):
    def configure(inst):
        inst.set_config("runtime", "max_failures", 1)
        inst.set_config("runtime", "request_timeout_ms", 500)

    inst = start_installation(tmp_path, push_examples_too=False, configure=configure)
    try:
        inst.push_ok("slow", "1", cm.slow_model(models / "w-slow.pt"), "torchscript")
        stuck = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e12]}]}
        statuses = [inst.infer("slow", stuck, timeout=30).status_code for _ in range(2)]
        assert statuses[0] == 503
        event = inst.wait_audit(lambda e: e.get("action") == "model.withdrawn", what="withdrawal")
        assert event["resource"] == "model:slow/versions/1" and event["decision"] == "deny"
        r = inst.infer("slow", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]})
        assert r.status_code == 503 and "withdrawn after repeated engine failures" in r.json()["error"]
        assert inst.get("/v2/models/slow/ready").status_code == 503
        text = inst.get("/metrics", admin=True).text
        assert 'aegis_model_withdrawn{model="slow",version="1"} 1' in text
        assert re.search(r'aegis_runtime_events_total\{event="withdrawn"\} 1', text)
    finally:
        stop_and_check(inst)


def test_sigterm_stops_the_server_while_a_worker_is_stuck(tmp_path, models):
    def configure(inst):
        inst.set_config("server", "drain_timeout_seconds", 2)
        inst.set_config("runtime", "request_timeout_ms", 600000)

    inst = start_installation(tmp_path, push_examples_too=False, configure=configure)
    inst.push_ok("slow", "1", cm.slow_model(models / "t-slow.pt"), "torchscript")
    stuck = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e12]}]}
    result = {}

    def call():
        try:
            result["r"] = inst.infer("slow", stuck, timeout=60)
        except requests.RequestException as e:
            result["r"] = e

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(1)
    engines = _engines(inst.proc.pid)
    started = time.monotonic()
    assert inst.stop(timeout=20) == 0
    assert time.monotonic() - started < 8, "the server waited on a stuck worker past its drain timeout"
    thread.join(10)
    for pid in engines:
        assert _dead(pid), pid


def test_a_full_queue_and_a_long_wait_get_503(tmp_path, models):
    """One busy instance: a second request waits at most queue_timeout_ms, and
    past max_queued a request is refused at once; both may retry."""
    def configure(inst):
        inst.set_config("runtime", "instances_per_model", 1)
        inst.set_config("runtime", "request_timeout_ms", 4000)
        inst.set_config("runtime", "queue_timeout_ms", 300)
        inst.set_config("runtime", "max_queued", 1)

    inst = start_installation(tmp_path, push_examples_too=False, configure=configure)
    try:
        inst.push_ok("slow", "1", cm.slow_model(models / "q-slow.pt"), "torchscript")
        stuck = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e12]}]}
        small = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}
        busy = threading.Thread(target=lambda: _swallow(lambda: inst.infer("slow", stuck, timeout=30)))
        busy.start()
        time.sleep(1)
        results = {}
        waiter = threading.Thread(target=lambda: results.setdefault("waited", inst.infer("slow", small, timeout=30)))
        waiter.start()
        time.sleep(0.1)
        full = inst.infer("slow", small, timeout=30)
        waiter.join(30)
        assert full.status_code == 503 and full.headers.get("Retry-After") == "1", full.text
        assert "1 requests are already waiting" in full.json()["error"], full.text
        waited = results["waited"]
        assert waited.status_code == 503 and waited.headers.get("Retry-After") == "1", waited.text
        assert "no instance was free within 300 ms" in waited.json()["error"], waited.text
        busy.join(30)
    finally:
        stop_and_check(inst)


def _dead(pid: int) -> bool:
    return not pathlib.Path(f"/proc/{pid}").exists() or "zombie" in _status(pid).get("State", "")


def test_workers_die_with_a_killed_server(tmp_path, models):
    """kill -9 of the server (no chance to clean up) must not leave engines
    running with a model and its inputs: every worker process follows it."""
    inst = start_installation(tmp_path, push_examples_too=False)
    inst.push_ok("slow", "1", cm.slow_model(models / "k-slow.pt"), "torchscript")
    stuck = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e12]}]}
    # One engine busy in an inference, the other idle: both must go.
    thread = threading.Thread(target=lambda: _swallow(lambda: inst.infer("slow", stuck, timeout=30)))
    thread.start()
    time.sleep(1)
    procs = _engine_processes(inst.proc.pid)
    assert len(procs) == 4, procs
    inst.kill()
    deadline = time.monotonic() + 10
    while not all(_dead(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in procs if not _dead(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    thread.join(30)
    assert not alive, f"engine processes outlived the server: {alive}"


def _swallow(call):
    try:
        call()
    except requests.RequestException:
        pass


def test_isolation_none_is_a_visible_finding(tmp_path):
    inst = start_installation(tmp_path, push_examples_too=False,
                              configure=lambda i: (i.set_config("runtime", "isolation", "none"),
                                                   # ONNX Runtime always runs in a worker process
                                                   i.set_config("runtime", "onnx_engine", "opencv")))
    try:
        assert 'runtime.isolation is "none"' in inst.log_text()
        text = inst.get("/metrics", admin=True).text
        assert 'aegis_runtime_isolation{mode="none"} 1' in text
        dashboard = inst.get("/v1/dashboard", admin=True).json()
        assert dashboard["runtime"]["isolation"] == "none"
        assert "can read the server's keys" in dashboard["runtime"]["finding"]
        # Still serves (trusted models, in process).
        inst.push_ok("mlp", "1", EXAMPLES / "mlp.onnx", "onnx")
        assert _children(inst.proc.pid) == []
    finally:
        stop_and_check(inst)
