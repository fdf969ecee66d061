"""Restart (models come back from the encrypted store), SIGTERM/SIGINT drain, readiness after a restart."""

import io
import re
import signal
import time

import numpy as np
import pytest
import requests

from aegis_testlib import Background, infer_body, output_array, reference_case, start_installation, stop_and_check

SLOW_SECONDS = 2.0  # target run time of one call of the slow model


def make_slow_model(target_seconds: float) -> tuple[bytes, int]:
    """A TorchScript model whose forward() loops over 512x512 matmuls for about target_seconds
    (single-threaded, as Aegis runs engines). Returns (bytes, iterations)."""
    import torch

    class Slow(torch.nn.Module):
        def __init__(self, iters: int):
            super().__init__()
            self.iters = iters
            self.w = torch.nn.Parameter(torch.eye(512) * 0.5, requires_grad=False)
            self.proj = torch.nn.Parameter(torch.ones(4, 512) / 4.0, requires_grad=False)

        def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002
            h = (input @ self.proj).repeat(512, 1)
            for _ in range(self.iters):
                h = torch.tanh(h @ self.w)
            return h[:1, :3].repeat(input.shape[0], 1)

    torch.set_num_threads(1)
    probe = torch.jit.script(Slow(10))
    x = torch.zeros(1, 4)
    with torch.no_grad():
        probe(x)
        t = time.perf_counter()
        probe(x)
        per_iter = (time.perf_counter() - t) / 10
    iters = max(10, int(target_seconds / per_iter))
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(Slow(iters).eval()), buf)
    return buf.getvalue(), iters


@pytest.fixture(scope="module")
def slow_model():
    return make_slow_model(SLOW_SECONDS)


@pytest.fixture(scope="module")
def inst(tmp_path_factory, slow_model):
    i = start_installation(tmp_path_factory.mktemp("aegis-lifecycle"),
                           models=["mlp_torch", "mlp_onnx", "xgb", "xgb_ubj", "echo"])
    i.push_ok("slow", "1", slow_model[0], "torchscript")
    yield i
    stop_and_check(i)


def ensure_running(inst):
    """Each test starts from a running server, whatever the previous test left behind."""
    if not inst.alive():
        inst.start()
    inst.wait_ready(90)


def snapshot_results(inst):
    results = {}
    for model in ("mlp_torch", "mlp_onnx", "xgb", "xgb_ubj"):
        x, y = reference_case(model)
        r = inst.infer(model, infer_body(x))
        assert r.status_code == 200, f"{model}: {r.status_code} {r.text[:300]}"
        got = output_array(r.json()["outputs"][0])
        np.testing.assert_allclose(got, y, atol=1e-5)
        results[model] = got
    return results


def test_restart_serves_models_from_encrypted_store(inst):
    ensure_running(inst)
    before = snapshot_results(inst)
    listed_before = sorted((m["name"], m["version"], m["sha256"])
                           for m in inst.get("/v1/models", admin=True).json()["models"])
    rc = inst.stop(signal.SIGTERM)
    assert rc == 0, f"SIGTERM exit code {rc}\n{inst.log_tail()}"
    inst.start()
    inst.wait_ready(90)
    after = snapshot_results(inst)
    for model in before:
        np.testing.assert_array_equal(after[model], before[model], err_msg=f"{model} changed across restart")
    listed_after = sorted((m["name"], m["version"], m["sha256"])
                          for m in inst.get("/v1/models", admin=True).json()["models"])
    assert listed_after == listed_before
    r = inst.get("/v2/models/echo/ready")
    assert r.status_code == 200 and r.json()["ready"] is True, r.text


def test_sigterm_drains_in_flight_request(inst):
    ensure_running(inst)
    x = np.ones((1, 4), dtype=np.float32)
    s = inst.session()
    warm = s.post(inst.url("/v2/models/slow/infer"), json=infer_body(x), timeout=60)
    assert warm.status_code == 200, warm.text
    t = time.monotonic()
    s.post(inst.url("/v2/models/slow/infer"), json=infer_body(x), timeout=60)
    one_call = time.monotonic() - t
    assert one_call > 0.6, f"slow model too fast to test draining ({one_call:.2f}s per call)"
    s.close()

    job = Background(lambda: inst.post("/v2/models/slow/infer", json=infer_body(x, id="inflight"), timeout=120))
    job.start()
    time.sleep(min(0.4, one_call / 3))  # the request is on the worker now
    inst.proc.send_signal(signal.SIGTERM)
    job.join(120)
    rc = inst.proc.wait(60)
    assert job.error is None, f"the in-flight request failed during SIGTERM drain: {job.error!r}\n{inst.log_tail()}"
    r = job.result
    assert r.status_code == 200, f"in-flight request during drain -> {r.status_code} {r.text[:300]}"
    assert r.json().get("id") == "inflight", r.json()
    assert rc == 0, f"exit code after SIGTERM with a request in flight: {rc}\n{inst.log_tail()}"
    inst.start()


def test_sigint_exits_zero(inst):
    ensure_running(inst)
    rc = inst.stop(signal.SIGINT)
    assert rc == 0, f"SIGINT exit code {rc}\n{inst.log_tail()}"
    inst.start()
    inst.wait_ready(90)


def make_big_model(megabytes: int) -> bytes:
    import torch
    n = int((megabytes * 1024 * 1024 / 4) ** 0.5)

    class Big(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(4, n)
            self.b = torch.nn.Linear(n, n)
            self.c = torch.nn.Linear(n, 3)

        def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002
            return self.c(torch.relu(self.b(torch.relu(self.a(input)))))

    torch.manual_seed(7)
    model = Big().eval()
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(model), buf)
    return buf.getvalue()


def test_readiness_after_restart_with_a_big_model(inst, tmp_path):
    """`aegis serve` opens its ports before it loads the stored models (several at once): liveness
    answers at once, readiness answers 503 until every version that served at the last start has
    loaded, a version still loading answers 503 "... is loading", and the time to ready is logged
    and exported. Once ready, every model serves."""
    ensure_running(inst)
    big = make_big_model(48)
    inst.push_ok("big", "1", big, "torchscript")
    x = np.ones((2, 4), dtype=np.float32)
    r = inst.infer("big", infer_body(x))
    assert r.status_code == 200, r.text
    want = output_array(r.json()["outputs"][0])
    assert inst.stop() == 0
    # The previous start recorded what served then: this start's readiness waits for it.
    inst.start(wait=False)
    inst.wait_live()
    answers, loading = [], None
    deadline = time.monotonic() + 90
    while True:
        assert inst.alive(), inst.log_tail()
        assert time.monotonic() < deadline, f"not ready within 90 s\n{inst.log_tail()}"
        ready = inst.get("/v2/health/ready", token=False, timeout=5)
        answers.append(ready.status_code)
        if ready.status_code == 200:
            break
        assert ready.status_code == 503 and ready.json() == {"ready": False}, ready.text
        m = inst.infer("big", infer_body(x))
        if m.status_code == 503 and "is loading" in m.json().get("error", ""):
            loading = m.json()["error"]
        else:
            # Loaded between the two probes: it must then be right.
            assert m.status_code == 200, m.text
        time.sleep(0.02)
    print(f"readiness answers before 200: {answers[:-1]}, loading error: {loading!r}")
    assert answers[0] == 503, "liveness came before the models, readiness must wait for them"
    assert ready.json() == {"ready": True}, ready.text
    mready = inst.get("/v2/models/big/ready")
    assert mready.status_code == 200 and mready.json().get("ready") is True, mready.text
    for model in ("big", "mlp_torch", "xgb"):
        body = infer_body(x if model == "big" else reference_case(model)[0])
        r = inst.infer(model, body)
        assert r.status_code == 200, f"ready said 200 but {model} -> {r.status_code} {r.text[:200]}"
    np.testing.assert_allclose(output_array(inst.infer("big", infer_body(x)).json()["outputs"][0]), want, atol=1e-5)
    metrics = inst.get("/metrics", admin=True).text
    startup = [line for line in metrics.splitlines() if line.startswith("aegis_startup_seconds ")]
    assert startup and 0 < float(startup[0].split()[1]) < 90, startup
    assert "aegis_models_ready 1" in metrics
    log = inst.last_stdout.read_text(errors="replace") + inst.last_stderr.read_text(errors="replace")
    assert re.search(r"ready [0-9.]+ s after start: \d+ model versions served, 0 failed to load", log), log[-2000:]
    # Plaintext never lands on disk, even for big models.
    data = big[len(big) // 2: len(big) // 2 + 64]
    assert all(data not in p.read_bytes() for p in inst.files()), "big model plaintext found on disk"
    assert inst.delete("/v1/models/big/versions/1").status_code == 200
