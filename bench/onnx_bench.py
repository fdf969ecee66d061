#!/usr/bin/python3
"""ONNX engines: the example MLP (examples/mlp.onnx) on ONNX Runtime and on OpenCV DNN, against the
FastAPI + uvicorn peer's TorchScript MLP (examples/mlp.pt), and the load time of a ~100 MB ONNX model.

  /usr/bin/python3 bench/onnx_bench.py [--duration 5] [--runs 3] [--big-mb 100] [--skip-load]

One installation (confined workers, the defaults) serves "mlp" on ONNX Runtime and "mlp_opencv" on
OpenCV DNN (`[models."mlp_opencv"] engine = "opencv"`); the peer serves the TorchScript MLP. wrk runs
interleaved round by round as in run_bench.py: 16 connections (throughput), 1 connection (latency).
The load test pushes a ~100 MB ONNX MLP exported by torch and restarts the server --runs times,
reading the server's "engine load X ms" line and the time to /v2/health/ready. Writes
bench/results/onnx.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_bench as rb  # noqa: E402

REPO = HERE.parent
MODELS = {"onnxruntime": "mlp", "opencv": "mlp_opencv", "peer": "mlp"}

BIG_ONNX = r"""
import sys, torch
size_mb, path = float(sys.argv[1]), sys.argv[2]
n = int((size_mb * 1024 * 1024 / 4) ** 0.5)
torch.manual_seed(1)
class Big(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(4, n), torch.nn.Linear(n, n), torch.nn.Linear(n, 3)
    def forward(self, input):
        return self.c(torch.relu(self.b(torch.relu(self.a(input)))))
torch.onnx.export(Big().eval(), (torch.ones(1, 4),), path, input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
"""


def url_of(name, server):
    return server.url(f"/v2/models/{MODELS[name]}/infer")


def bench_http(args, servers, tmp):
    body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [0.1, -0.2, 0.3, 0.4]}]}
    body_file = tmp / "body.json"
    body_file.write_text(json.dumps(body))
    answers = {}
    for name, server in servers.items():
        r = rb.HTTP.post(url_of(name, server), json=body, verify=server.ca, timeout=30,
                         headers={"Authorization": f"Bearer {server.token}"})
        if r.status_code != 200:
            raise SystemExit(f"{name}: {r.status_code} {r.text[:300]}")
        answers[name] = r.json()["outputs"][0]["data"]
    for name, data in answers.items():
        if any(abs(a - b) > 1e-4 for a, b in zip(data, answers["onnxruntime"])):
            raise SystemExit(f"{name} disagrees with onnxruntime: {data} vs {answers['onnxruntime']}")
    for name, server in servers.items():  # warm-up
        rb.run_wrk(url_of(name, server), server.token, body_file, args.connections, 2, 2)
    tput = {k: [] for k in servers}
    lat = {k: [] for k in servers}
    for i in range(args.runs):
        for name, server in servers.items():
            r = rb.run_wrk(url_of(name, server), server.token, body_file, args.connections, 2, args.duration)
            rb.log(f"run {i + 1}/{args.runs} {name}: {args.connections} connections: {r['rps']:.0f} req/s")
            tput[name].append(r)
        for name, server in servers.items():
            r = rb.run_wrk(url_of(name, server), server.token, body_file, 1, 1, args.duration)
            rb.log(f"run {i + 1}/{args.runs} {name}: 1 connection: p50 {r['p50_us']:.0f} us, "
                   f"p99 {r['p99_us']:.0f} us")
            lat[name].append(r)
    out = {}
    for name in servers:
        out[name] = {"rps_16conn": rb.summarize(tput[name], "rps"), "p50_us_1conn": rb.summarize(lat[name], "p50_us"),
                     "p99_us_1conn": rb.summarize(lat[name], "p99_us"),
                     "non_2xx": sum(r["non_2xx"] for r in tput[name] + lat[name])}
    return out


def bench_load(args, aegis, tmp):
    path = tmp / "big.onnx"
    rb.log(f"exporting a ~{args.big_mb} MB ONNX model")
    subprocess.run([rb.PY, "-c", BIG_ONNX, str(args.big_mb), str(path)], check=True, timeout=900,
                   capture_output=True)
    size = path.stat().st_size
    push_s = aegis.push("big", "1", path, "onnx")
    rb.log(f"pushed {size / 1e6:.1f} MB in {push_s:.2f} s")
    ready, engine = [], []
    for i in range(args.runs):
        aegis.stop()
        log_path = aegis.start()
        rb.wait_200(aegis.url("/v2/health/ready"), aegis.ca, aegis.proc, 600, "aegis")
        ready.append(time.monotonic() - aegis.t_spawn)
        time.sleep(0.3)
        m = [x for x in rb.LOAD_LINE.findall(log_path.read_text(errors="replace")) if x[0] == "big"]
        if m:
            engine.append(float(m[-1][4]))
        rb.log(f"restart {i + 1}/{args.runs}: ready after {ready[-1]:.2f} s, engine load "
               f"{engine[-1] if m else 'n/a'} ms")
    return {"size_bytes": size, "push_s": push_s, "restart_to_ready_s": {"runs": ready, "median": statistics.median(ready)},
            "engine_load_ms": {"runs": engine, "median": statistics.median(engine) if engine else None}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--big-mb", type=float, default=100)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--output", default=str(HERE / "results" / "onnx.json"))
    args = ap.parse_args()
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="aegis-onnx-bench-") as t:
        tmp = pathlib.Path(t)
        aegis = rb.Aegis(tmp, "aegis")
        with open(aegis.dir / "aegis.toml", "a") as f:
            f.write('\n[models."mlp_opencv"]\nengine = "opencv"\n')
        peer = None
        try:
            aegis.start()
            rb.wait_200(aegis.url("/v2/health/live"), aegis.ca, aegis.proc, 120, "aegis")
            aegis.push("mlp", "1", REPO / "examples" / "mlp.onnx", "onnx")
            aegis.push("mlp_opencv", "1", REPO / "examples" / "mlp.onnx", "onnx")
            if not args.skip_http:
                peer = rb.Peer(tmp, aegis, 2)
                rb.wait_200(peer.url("/v2/health/ready"), aegis.ca, peer.proc, 120, "peer")
                results["http"] = bench_http(args, {"onnxruntime": aegis, "opencv": aegis, "peer": peer}, tmp)
                h = results["http"]
                results["ratios"] = {
                    f"{a}_over_{b}": {"throughput": h[a]["rps_16conn"]["median"] / h[b]["rps_16conn"]["median"],
                                      "p50_1conn": h[a]["p50_us_1conn"]["median"] / h[b]["p50_us_1conn"]["median"]}
                    for a, b in (("onnxruntime", "opencv"), ("onnxruntime", "peer"), ("opencv", "peer"))}
            if not args.skip_load:
                results["load"] = bench_load(args, aegis, tmp)
        finally:
            if peer:
                peer.stop()
            aegis.stop()
    pathlib.Path(args.output).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k in ("http", "ratios", "load")}, indent=1))


if __name__ == "__main__":
    main()
