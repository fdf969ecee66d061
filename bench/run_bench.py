#!/usr/bin/python3
"""Aegis benchmark: inference throughput and latency, confined and in-process, against a FastAPI peer;
memory of the engine workers; model load time.

Builds nothing: it expects the release binary (build/release/src/cli/aegis, or $AEGIS_BIN).

  /usr/bin/python3 bench/run_bench.py [--duration 10] [--runs 3] [--skip-load] [--skip-http] [--skip-inprocess]

What it does (see bench/README.md):
  1. Two installations (`aegis init` into a temp dir): "aegis" with [runtime] isolation = "process"
     (the default: confined engine workers) and "aegis_inprocess" with isolation = "none" (engines in
     the server process). Each serves on two free loopback ports and gets examples/mlp.pt pushed as
     model "mlp" version "1".
  2. Start bench/peer_fastapi.py (FastAPI + uvicorn, same TLS certificate, bearer token checked in
     constant time, same TorchScript model, torch.set_num_threads(1), no_grad).
  3. Check all three answer the same request with the same numbers, then run wrk with bench/infer.lua:
     16 connections x 2 threads for --duration s (req/s) and 1 connection (p50/p99 latency), each
     --runs times, interleaving the three servers; report medians and the ratios confined/in-process,
     confined/peer and in-process/peer.
  4. Sum VmRSS (and Pss, where /proc/PID/smaps_rollup is readable) of each server's worker processes:
     its children (one per model instance) and their children.
  5. Generate a ~120 MB TorchScript MLP, push it to the confined server, restart it --runs times and
     measure the time until /v2/health/ready; parse the server's "loaded model ... decrypt X ms (Y MB/s)"
     line.
  6. Print a table and write bench/results/latest.json (or --output).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
AEGIS_BIN = pathlib.Path(os.environ.get("AEGIS_BIN", str(REPO / "build" / "release" / "src" / "cli" / "aegis")))
PY = "/usr/bin/python3"
MODEL = REPO / "examples" / "mlp.pt"
REFERENCE = REPO / "examples" / "reference.json"
# No proxies or REQUESTS_CA_BUNDLE from the environment: every call passes verify=<the CA>.
HTTP = requests.Session()
HTTP.trust_env = False

# "loaded model NAME version V: [S MB, ]decrypt X ms (Y MB/s), engine load Z ms"
LOAD_LINE = re.compile(r"loaded model (\S+) version (\S+):.*?decrypt ([\d.]+) ms \(([\d.]+) MB/s\), "
                       r"engine load ([\d.]+) ms")


def log(msg: str):
    print(f"[bench] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_200(url: str, ca: str, proc: subprocess.Popen, timeout: float, what: str, headers=None) -> float:
    """Polls url until 200; returns the time it took. Fails if proc exits."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} while waiting for {url}")
        try:
            r = HTTP.get(url, verify=ca, timeout=2, headers=headers)
            if r.status_code == 200:
                return time.monotonic() - t0
            last = r.status_code
        except requests.RequestException as e:
            last = type(e).__name__
        time.sleep(0.01)
    raise SystemExit(f"{what}: {url} not 200 after {timeout}s (last: {last})")


class Aegis:
    """One installation (`aegis init`) in root/NAME and its `aegis serve` process."""

    def __init__(self, root: pathlib.Path, name: str = "aegis", isolation: str | None = None):
        self.name = name
        self.root = root / name
        self.root.mkdir()
        self.dir = self.root / "data"
        self.data_port, self.admin_port = free_port(), free_port()
        self.proc = None
        self.starts = 0
        out = subprocess.run([str(AEGIS_BIN), "init", "--data-dir", str(self.dir), "--json"], capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise SystemExit(f"aegis init failed: {out.stderr.strip()}")
        info = json.loads(out.stdout)
        self.token, self.ca = info["admin_token"], info["ca_cert"]
        self._set("limits", "max_model_bytes", str(1 << 30))  # room for the big model
        # One token drives the whole load: above [guard]'s default 1000/s per principal. The
        # guard stage still runs on every request; it just never refuses here.
        self._set("guard", "rate", '"1000000/s"')
        if isolation is not None:
            self._set("runtime", "isolation", json.dumps(isolation))

    def _set(self, section: str, key: str, literal: str):
        """Sets key = literal (a TOML value) in aegis.toml; the keys used here are unique in the file."""
        path = self.dir / "aegis.toml"
        text = path.read_text()
        line = f"{key} = {literal}"
        if re.search(rf"(?m)^\s*{key}\s*=", text):
            text = re.sub(rf"(?m)^\s*{key}\s*=.*$", lambda _: line, text)
        elif re.search(rf"(?m)^\[{section}\]\s*$", text):
            text = re.sub(rf"(?m)^\[{section}\]\s*$", lambda _: f"[{section}]\n{line}", text, count=1)
        else:
            text += f"\n[{section}]\n{line}\n"
        path.write_text(text)

    def start(self) -> pathlib.Path:
        self.starts += 1
        self.log_path = self.root / f"aegis-serve-{self.starts}.log"
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(
            [str(AEGIS_BIN), "serve", "--data-dir", str(self.dir), "--listen", f"127.0.0.1:{self.data_port}",
             "--admin-listen", f"127.0.0.1:{self.admin_port}"],
            stdin=subprocess.DEVNULL, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        return self.log_path

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.data_port}{path}"

    def admin(self, path: str) -> str:
        return f"https://127.0.0.1:{self.admin_port}{path}"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if rc != 0:
                log(f"warning: aegis serve exited with {rc} after SIGTERM")

    def _cli(self, *args):
        env = dict(os.environ, AEGIS_SERVER=f"https://127.0.0.1:{self.admin_port}", AEGIS_TOKEN=self.token,
                   AEGIS_CACERT=self.ca)
        out = subprocess.run([str(AEGIS_BIN), *map(str, args)], env=env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"aegis {args[0]} {args[1]} failed: {out.stderr.strip()}")

    def sign(self, path: pathlib.Path) -> str:
        """The publisher's side (outside the timed push): a key trusted once, a bundle per model."""
        key = self.root / "publisher.key"
        if not key.exists():
            self._cli("model", "keygen", "--type", "ecdsa-p256", "--private-key", key,
                      "--public-key", self.root / "publisher.pub")
            self._cli("trust", "add", "bench-publisher", "--public-key", self.root / "publisher.pub")
        bundle = self.root / f"{path.name}.sig.json"
        self._cli("model", "sign", path, "--key", key, "--output", bundle, "--force")
        return base64.b64encode(bundle.read_bytes()).decode()

    def push(self, name: str, version: str, path: pathlib.Path, fmt: str) -> float:
        signature = self.sign(path)
        t0 = time.monotonic()
        with open(path, "rb") as f:
            r = HTTP.put(self.admin(f"/v1/models/{name}/versions/{version}?format={fmt}"), data=f,
                             headers={"Authorization": f"Bearer {self.token}",
                                      "Content-Type": "application/octet-stream",
                                      "Content-Length": str(path.stat().st_size),
                                      "Aegis-Signature-Bundle": signature},
                             verify=self.ca, timeout=600)
        if r.status_code != 201:
            raise SystemExit(f"push {name}/{version} failed: {r.status_code} {r.text[:300]}")
        return time.monotonic() - t0


class Peer:
    def __init__(self, root: pathlib.Path, aegis: Aegis, workers: int):
        self.port = free_port()
        self.token = aegis.token
        self.ca = aegis.ca
        tls = aegis.dir / "tls"
        env = dict(os.environ, PEER_MODEL=str(MODEL), PEER_TOKEN=aegis.token, PEER_MODEL_NAME="mlp")
        self.log_path = root / "peer.log"
        self.proc = subprocess.Popen(
            [PY, str(HERE / "peer_fastapi.py"), "--port", str(self.port), "--cert", str(tls / "server.crt"),
             "--key", str(tls / "server.key"), "--workers", str(workers)],
            env=env, stdin=subprocess.DEVNULL, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def to_us(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unparsable wrk duration {text!r}")
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[unit]


def run_wrk(url: str, token: str, body_file: pathlib.Path, connections: int, threads: int,
            duration: float) -> dict:
    env = dict(os.environ, BENCH_BODY_FILE=str(body_file), BENCH_TOKEN=token)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "--latency", "--timeout", "10s",
           "-s", str(HERE / "infer.lua"), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise SystemExit(f"wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    pct = {p: to_us(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result = {"rps": rps, "requests": total, "p50_us": pct.get("50"), "p99_us": pct.get("99"),
              "p90_us": pct.get("90"), "non_2xx": int(non2xx.group(1)) if non2xx else 0,
              "socket_errors": sum(map(int, sock.groups())) if sock else 0}
    if result["non_2xx"] or result["socket_errors"]:
        log(f"warning: {url}: {result['non_2xx']} non-2xx responses, {result['socket_errors']} socket errors")
    return result


def summarize(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs if r.get(key) is not None]
    return {"runs": values, "median": statistics.median(values) if values else None}


LABELS = {"aegis": "Aegis confined", "aegis_inprocess": "Aegis in-process", "peer": "peer"}
# (result key, numerator, denominator): every ratio the report and the JSON carry
RATIOS = [("confined_over_inprocess", "aegis", "aegis_inprocess"), ("confined_over_peer", "aegis", "peer"),
          ("inprocess_over_peer", "aegis_inprocess", "peer")]


def infer(server, body: dict, token: str | None = None) -> requests.Response:
    return HTTP.post(server.url("/v2/models/mlp/infer"), json=body, verify=server.ca, timeout=30,
                     headers={"Authorization": f"Bearer {token or server.token}"})


def check_same_answer(servers: dict, body: dict):
    """Every server answers the same numbers (within 1e-5); the peer refuses a wrong token."""
    first = None
    for name, server in servers.items():
        r = infer(server, body)
        if r.status_code != 200:
            raise SystemExit(f"sanity request failed: {name} {r.status_code} {r.text[:200]}")
        data = r.json()["outputs"][0]["data"]
        if first is None:
            first = (name, data)
        elif len(data) != len(first[1]) or any(abs(x - y) > 1e-5 for x, y in zip(data, first[1])):
            raise SystemExit(f"{first[0]} and {name} disagree: {first[1]} vs {data}")
    if "peer" in servers and infer(servers["peer"], body, token="wrong").status_code != 401:
        raise SystemExit("peer accepted a wrong token")


def proc_cost(pid: int) -> dict:
    """CPU seconds (user + system, every thread) and context switches (voluntary + involuntary, every
    thread) of `pid` and its descendants (for Aegis: the engine workers) so far. Less sensitive to a
    noisy machine than wall-clock figures: what a request costs, not how long it waited for a core."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, switches = 0.0, 0
    for p in [pid] + proc_descendants(pid):
        try:
            fields = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
        for status in pathlib.Path(f"/proc/{p}/task").glob("*/status"):
            for field in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                switches += proc_kb(str(status), field) or 0
    return {"cpu_s": cpu, "switches": switches}


def wrk_on(server, body_file: pathlib.Path, connections: int, threads: int, duration: float) -> dict:
    before = proc_cost(server.proc.pid)
    r = run_wrk(server.url("/v2/models/mlp/infer"), server.token, body_file, connections, threads, duration)
    after = proc_cost(server.proc.pid)
    if r["requests"]:
        r["cpu_us_per_request"] = (after["cpu_s"] - before["cpu_s"]) * 1e6 / r["requests"]
        r["switches_per_request"] = (after["switches"] - before["switches"]) / r["requests"]
    return r


def measure_round(args, servers: dict, body_file: pathlib.Path, i: int, tput: dict, lat: dict):
    """One round: throughput on every server in turn, then latency on every server in turn."""
    for name, server in servers.items():
        r = wrk_on(server, body_file, args.connections, args.threads, args.duration)
        log(f"run {i + 1}/{args.runs} {name}: {args.connections} connections: {r['rps']:.0f} req/s")
        tput[name].append(r)
    for name, server in servers.items():
        r = wrk_on(server, body_file, 1, 1, args.duration)
        log(f"run {i + 1}/{args.runs} {name}: 1 connection: p50 {r['p50_us']:.0f} us, p99 {r['p99_us']:.0f} us,"
            f" {r['rps']:.0f} req/s")
        lat[name].append(r)


def summarize_server(tput: list[dict], lat: list[dict]) -> tuple[dict, dict]:
    t = {"rps": summarize(tput, "rps"), "p50_us": summarize(tput, "p50_us"), "p99_us": summarize(tput, "p99_us"),
         "cpu_us_per_request": summarize(tput, "cpu_us_per_request"),
         "switches_per_request": summarize(tput, "switches_per_request"),
         "non_2xx": sum(r["non_2xx"] for r in tput), "socket_errors": sum(r["socket_errors"] for r in tput)}
    l = {"p50_us": summarize(lat, "p50_us"), "p99_us": summarize(lat, "p99_us"), "rps": summarize(lat, "rps"),
         "cpu_us_per_request": summarize(lat, "cpu_us_per_request"),
         "switches_per_request": summarize(lat, "switches_per_request"),
         "non_2xx": sum(r["non_2xx"] for r in lat)}
    return t, l


def http_bench(args, servers: dict, tmp: pathlib.Path) -> dict:
    """wrk against every server in `servers` (name -> Aegis or Peer), interleaved round by round."""
    ref = json.loads(REFERENCE.read_text())["mlp"]["inputs"][0]
    body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": ref["data"][:4]}]}
    body_file = tmp / "body.json"
    body_file.write_text(json.dumps(body))
    check_same_answer(servers, body)
    log("warm-up")
    for server in servers.values():
        wrk_on(server, body_file, args.connections, args.threads, 2)
    tput = {k: [] for k in servers}
    lat = {k: [] for k in servers}
    for i in range(args.runs):
        measure_round(args, servers, body_file, i, tput, lat)
    out = {"body": body, "connections": args.connections, "threads": args.threads, "duration_s": args.duration,
           "throughput": {}, "latency_1conn": {}}
    for name in servers:
        out["throughput"][name], out["latency_1conn"][name] = summarize_server(tput[name], lat[name])
    return out


def http_ratios(h: dict) -> dict:
    """Median over median for each pair of servers that was measured; p50_delta_us = numerator - denominator."""
    out = {}
    for key, a, b in RATIOS:
        if a in h["throughput"] and b in h["throughput"]:
            la, lb = h["latency_1conn"][a], h["latency_1conn"][b]
            out[key] = {"throughput": ratio(h["throughput"][a]["rps"]["median"], h["throughput"][b]["rps"]["median"]),
                        "p50_1conn": ratio(la["p50_us"]["median"], lb["p50_us"]["median"]),
                        "p99_1conn": ratio(la["p99_us"]["median"], lb["p99_us"]["median"]),
                        "p50_delta_us": la["p50_us"]["median"] - lb["p50_us"]["median"]}
    return out


# Memory of the engine workers: the server's children (one per model instance) and their children
# (in a PID namespace a worker is a waiting parent and the engine).

def proc_children(pid: int) -> list[int]:
    out = []
    for f in pathlib.Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(x) for x in f.read_text().split()]
        except OSError:
            pass
    return out


def proc_descendants(pid: int) -> list[int]:
    out, todo = [], proc_children(pid)
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo += proc_children(p)
    return out


def proc_kb(path: str, field: str) -> int | None:
    """The `field: N kB` line of a /proc file, or None if unreadable (e.g. a non-dumpable process)."""
    try:
        for line in open(path):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_memory(pid: int) -> dict:
    return {"pid": pid, "vmrss_kb": proc_kb(f"/proc/{pid}/status", "VmRSS"),
            "pss_kb": proc_kb(f"/proc/{pid}/smaps_rollup", "Pss")}


def total(items: list[dict], key: str) -> int | None:
    values = [i[key] for i in items]
    return None if None in values else sum(values)


def per(value: int | None, n: int) -> float | None:
    return value / n if value is not None and n else None


def memory_report(aegis: Aegis) -> dict:
    """RSS and PSS (kB) of the server and of its worker processes, in total and per model instance.

    role "worker" is a child of the server (one per model instance); "engine" is a worker's child
    (when the worker runs in its own PID namespace, the first process only waits for the engine)."""
    instances = proc_children(aegis.proc.pid)
    workers = [dict(proc_memory(p), role="worker" if p in instances else "engine")
               for p in proc_descendants(aegis.proc.pid)]
    server = proc_memory(aegis.proc.pid)
    rss, pss = total(workers, "vmrss_kb"), total(workers, "pss_kb")
    return {"server": server,
            "workers": {"instances": len(instances), "processes": len(workers),
                        "vmrss_kb_total": rss, "pss_kb_total": pss,
                        "vmrss_kb_per_instance": per(rss, len(instances)),
                        "pss_kb_per_instance": per(pss, len(instances)), "per_process": workers},
            "server_and_workers_pss_kb": total([server, {"pss_kb": pss}], "pss_kb")}


def load_bench(args, aegis: Aegis, tmp: pathlib.Path) -> dict:
    path = tmp / "big.pt"
    log(f"generating a ~{args.big_mb} MB TorchScript model")
    subprocess.run([PY, str(HERE / "make_big_model.py"), str(args.big_mb), str(path)], check=True, timeout=600)
    size = path.stat().st_size
    push_s = aegis.push("big", "1", path, "torchscript")
    log(f"pushed {size / 1e6:.1f} MB in {push_s:.2f} s ({size / 1e6 / push_s:.0f} MB/s incl. upload, scan, encrypt, load)")
    ready_s, live_s, parsed = [], [], []
    for i in range(args.runs):
        aegis.stop()
        log_path = aegis.start()
        wait_200(aegis.url("/v2/health/live"), aegis.ca, aegis.proc, 600, "aegis")
        t_live = time.monotonic() - aegis.t_spawn
        wait_200(aegis.url("/v2/health/ready"), aegis.ca, aegis.proc, 600, "aegis")
        t_ready = time.monotonic() - aegis.t_spawn
        ready_s.append(t_ready)
        live_s.append(t_live)
        time.sleep(0.3)  # let the log line reach the file
        m = [x for x in LOAD_LINE.findall(log_path.read_text(errors="replace")) if x[0] == "big"]
        if m:
            parsed.append({"decrypt_ms": float(m[-1][2]), "decrypt_MBps": float(m[-1][3]),
                           "engine_load_ms": float(m[-1][4])})
        log(f"restart {i + 1}/{args.runs}: ready after {t_ready:.2f} s" +
            (f"; server log: decrypt {parsed[-1]['decrypt_ms']} ms ({parsed[-1]['decrypt_MBps']} MB/s), "
             f"engine load {parsed[-1]['engine_load_ms']} ms" if m else "; no 'loaded model' line in the log"))
    r = HTTP.post(aegis.url("/v2/models/big/infer"), verify=aegis.ca, timeout=60,
                      headers={"Authorization": f"Bearer {aegis.token}"},
                      json={"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
    if r.status_code != 200:
        log(f"warning: infer on the big model after restart: {r.status_code} {r.text[:200]}")
    out = {"size_bytes": size, "push_s": push_s, "restart_to_ready_s": {"runs": ready_s,
                                                                        "median": statistics.median(ready_s)},
           "restart_to_live_s": {"runs": live_s, "median": statistics.median(live_s)},
           "infer_after_restart_status": r.status_code, "server_log": None}
    if parsed:
        out["server_log"] = {k: {"runs": [p[k] for p in parsed], "median": statistics.median(p[k] for p in parsed)}
                             for k in parsed[0]}
    path.unlink()
    return out


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    return f"{v:,.0f}{unit}" if abs(v) >= 10 else f"{v:.2f}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def http_table(h: dict) -> list[str]:
    names = list(h["throughput"])
    pairs = [(k, a, b) for k, a, b in RATIOS if a in names and b in names]
    runs = len(h["throughput"][names[0]]["rps"]["runs"])
    rows = [(f"req/s, {h['connections']} connections", "throughput", "rps", ""),
            ("p50 latency, 1 conn (lower=better)", "latency_1conn", "p50_us", " us"),
            ("p99 latency, 1 conn (lower=better)", "latency_1conn", "p99_us", " us"),
            ("req/s, 1 connection", "latency_1conn", "rps", ""),
            (f"CPU us/req, {h['connections']} conn (srv+workers)", "throughput", "cpu_us_per_request", " us"),
            ("CPU us/req, 1 conn", "latency_1conn", "cpu_us_per_request", " us"),
            (f"switches/req, {h['connections']} conn", "throughput", "switches_per_request", ""),
            ("switches/req, 1 conn", "latency_1conn", "switches_per_request", "")]
    head = f"{'metric (median of ' + str(runs) + ' runs)':<36}" + "".join(f"{LABELS[n]:>18}" for n in names)
    lines = [head + "".join(f"{k.replace('_over_', '/'):>26}" for k, _, _ in pairs)]
    for label, part, key, unit in rows:
        values = {n: h[part][n][key]["median"] for n in names}
        line = f"{label:<36}" + "".join(f"{fmt(values[n], unit):>18}" for n in names)
        for _, a, b in pairs:
            r = ratio(values[a], values[b])
            line += f"{(f'{r:.2f}x' if r else 'n/a'):>26}"
        lines.append(line)
    return lines


def memory_table(memory: dict) -> list[str]:
    lines = [f"{'memory after the HTTP runs (MiB)':<36}{'server RSS':>12}{'workers':>9}{'instances':>11}"
             f"{'workers RSS':>13}{'workers PSS':>13}{'RSS/inst':>10}{'PSS/inst':>10}{'server+workers PSS':>20}"]
    mib = lambda kb: fmt(kb / 1024) if kb is not None else "n/a"  # noqa: E731
    for name, m in memory.items():
        w = m["workers"]
        lines.append(f"{LABELS[name]:<36}{mib(m['server']['vmrss_kb']):>12}{w['processes']:>9}{w['instances']:>11}"
                     f"{mib(w['vmrss_kb_total']):>13}{mib(w['pss_kb_total']):>13}"
                     f"{mib(w['vmrss_kb_per_instance']):>10}{mib(w['pss_kb_per_instance']):>10}"
                     f"{mib(m['server_and_workers_pss_kb']):>20}")
    return lines


def load_lines(ld: dict) -> list[str]:
    lines = [f"model load: {ld['size_bytes'] / 1e6:.1f} MB TorchScript; push {ld['push_s']:.2f} s; "
             f"restart to ready {ld['restart_to_ready_s']['median']:.2f} s (median)"]
    if ld["server_log"]:
        s = ld["server_log"]
        lines.append(f"server log: decrypt {s['decrypt_ms']['median']:.1f} ms "
                     f"({s['decrypt_MBps']['median']:.0f} MB/s), engine load {s['engine_load_ms']['median']:.0f} ms")
    else:
        lines.append("server log: no 'loaded model NAME version V: decrypt ...' line found")
    return lines


def report(results: dict):
    lines = []
    if results.get("http"):
        lines += http_table(results["http"])
    if results.get("memory"):
        lines += [""] + memory_table(results["memory"])
    if results.get("load"):
        lines += [""] + load_lines(results["load"])
    lines.append("")
    for k, v in results["goals"].items():
        lines.append(f"goal {k}: {'met' if v['met'] else ('NOT met' if v['met'] is False else 'not measured')}"
                     f" ({v['value']})")
    print("\n".join(lines))


def confinement_goals(h: dict) -> dict:
    """Issue 12's budget for confined workers against engines in the server process."""
    r = http_ratios(h).get("confined_over_inprocess")
    if not r:
        return {}
    delta, tput = r["p50_delta_us"], r["throughput"]
    return {"confinement adds <= 15 us p50 at 1 connection": {"met": delta <= 15, "value": f"{delta:+.0f} us"},
            "confinement costs <= 20 % throughput at 16 connections": {
                "met": tput is not None and tput >= 0.8,
                "value": f"{tput:.2f}x the in-process throughput" if tput is not None else None}}


def goals(results: dict) -> dict:
    g = {}
    h = results.get("http")
    if h and "peer" in h["throughput"]:
        r = ratio(h["throughput"]["aegis"]["rps"]["median"], h["throughput"]["peer"]["rps"]["median"])
        g["throughput >= 10x peer at 16 connections"] = {"met": r is not None and r >= 10,
                                                         "value": f"{r:.2f}x" if r else None}
    if h:
        p50 = h["latency_1conn"]["aegis"]["p50_us"]["median"]
        g["p50 <= 100 us at 1 connection"] = {"met": p50 is not None and p50 <= 100, "value": f"{p50:.0f} us"}
        g.update(confinement_goals(h))
    ld = results.get("load")
    if ld:
        s = ld.get("server_log")
        v = s["decrypt_MBps"]["median"] if s else None
        g["decrypt >= 1 GB/s"] = {"met": (v >= 1000) if v is not None else None,
                                  "value": f"{v:.0f} MB/s" if v is not None else "not logged by the server"}
    return g


def main():
    ap = argparse.ArgumentParser(description="Aegis vs FastAPI peer benchmark (see bench/README.md)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each measurement; medians reported")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads for the throughput runs")
    ap.add_argument("--peer-workers", type=int, default=os.cpu_count() or 1,
                    help="uvicorn worker processes for the peer (default: number of cores)")
    ap.add_argument("--big-mb", type=float, default=120, help="size of the generated model for the load test")
    ap.add_argument("--skip-http", action="store_true", help="skip the wrk comparison")
    ap.add_argument("--skip-load", action="store_true", help="skip the big-model load measurement")
    ap.add_argument("--skip-inprocess", action="store_true",
                    help="no second installation with [runtime] isolation = \"none\"")
    ap.add_argument("--output", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temp installation")
    args = ap.parse_args()

    if not AEGIS_BIN.is_file():
        sys.exit(f"{AEGIS_BIN} not found: run `make build` first (or set AEGIS_BIN)")
    if shutil.which("wrk") is None and not args.skip_http:
        sys.exit("wrk not found (apt-get install wrk)")
    if not MODEL.is_file():
        sys.exit(f"{MODEL} missing: /usr/bin/python3 examples/make_models.py")

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="aegis-bench-"))
    results = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "host": {"cores": os.cpu_count(), "machine": platform.machine(), "cpu": cpu_model(),
                        "loadavg_1m_at_start": os.getloadavg()[0]},
               "aegis_bin": str(AEGIS_BIN), "git_commit": git_commit()}
    if os.getloadavg()[0] > (os.cpu_count() or 1) * 0.5:
        log(f"warning: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: results will be noisy")
    servers = {}  # name -> Aegis or Peer, in the order they are measured
    try:
        log(f"temp installation in {tmp}")
        aegis = servers["aegis"] = start_aegis(tmp, "aegis", "process")
        meta = HTTP.get(aegis.url("/v2"), headers={"Authorization": f"Bearer {aegis.token}"}, verify=aegis.ca,
                        timeout=10)
        results["aegis_version"] = meta.json().get("version") if meta.status_code == 200 else None
        if not args.skip_inprocess:
            servers["aegis_inprocess"] = start_aegis(tmp, "aegis_inprocess", "none")
        check_isolation(servers)
        if not args.skip_http:
            peer = servers["peer"] = Peer(tmp, aegis, args.peer_workers)
            wait_200(peer.url("/v2/health/live"), aegis.ca, peer.proc, 120, "peer")
            results["peer"] = {"workers": args.peer_workers, "server": "uvicorn " + pkg_version("uvicorn"),
                               "fastapi": pkg_version("fastapi"), "torch": pkg_version("torch"),
                               "uvloop": has_module("uvloop"), "httptools": has_module("httptools")}
            results["http"] = http_bench(args, servers, tmp)
        results["memory"] = {n: memory_report(s) for n, s in servers.items() if isinstance(s, Aegis)}
        for name in [n for n in servers if n != "aegis"]:
            servers.pop(name).stop()
        if not args.skip_load:
            results["load"] = load_bench(args, aegis, tmp)
        results["host"]["loadavg_1m_at_end"] = os.getloadavg()[0]
        results["goals"] = goals(results)
        if results.get("http"):
            results["ratios"] = http_ratios(results["http"])
            if "confined_over_peer" in results["ratios"]:  # the key earlier result files used
                results["ratios_aegis_over_peer"] = results["ratios"]["confined_over_peer"]
        out = pathlib.Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print()
        report(results)
        log(f"wrote {out}")
    finally:
        for server in servers.values():
            server.stop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def start_aegis(tmp: pathlib.Path, name: str, isolation: str) -> Aegis:
    """A fresh installation with [runtime] isolation set, serving examples/mlp.pt as mlp/1."""
    aegis = Aegis(tmp, name, isolation)
    aegis.start()
    wait_200(aegis.url("/v2/health/live"), aegis.ca, aegis.proc, 120, name)
    aegis.push("mlp", "1", MODEL, "torchscript")
    wait_200(aegis.url("/v2/health/ready"), aegis.ca, aegis.proc, 120, name)
    log(f"{name}: isolation = {isolation!r}, serving on port {aegis.data_port}")
    return aegis


def check_isolation(servers: dict):
    """The confined server must have worker processes and the in-process one none, or the comparison is void."""
    for name, server in servers.items():
        n = len(proc_children(server.proc.pid))
        if (name == "aegis") != (n > 0):
            raise SystemExit(f"{name}: {n} child processes; expected {'some' if name == 'aegis' else 'none'}")


def cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except OSError:
        return None


def pkg_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001
        return "?"


def has_module(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    main()
