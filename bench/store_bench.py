#!/usr/bin/python3
"""Inference through HAProxy with the PostgreSQL store vs the SQLite store (issue 17).

    bench/store_bench.py [--duration 5] [--runs 3] [--connections 16] [--threads 2] [--output FILE]

The request path never waits on the database (tokens, sessions, suspensions and models are
in memory; the change feed refreshes them), so the PostgreSQL store must not make inference
slower: the budget is 5 %. Two installations run at once, each one replica behind its own
HAProxy frontend (TLS terminated and re-encrypted, the same configuration as
tests/integration/test_scale_out.py): one on SQLite, one on a real PostgreSQL 15 over TLS
(tests/tools/pg_server.py). The same signed model (examples/mlp.pt), the same token shape,
the same certificate; wrk alternates between them `--runs` times and the medians are
compared. Needs wrk, haproxy, postgresql-15 (scripts/setup.sh installs them).
"""

import argparse
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import requests

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_bench import AEGIS_BIN, MODEL, PY, REPO, free_port, log, run_wrk  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "tools"))
from pg_server import make_certificates  # noqa: E402

PG_SERVER = [PY, str(REPO / "tests" / "tools" / "pg_server.py")]


def make_certificate(folder: pathlib.Path):
    make_certificates(str(folder))
    (folder / "haproxy.pem").write_bytes((folder / "server.crt").read_bytes() + (folder / "server.key").read_bytes())


class Server:
    def __init__(self, root: pathlib.Path, name: str, certs: pathlib.Path, store_url: str | None, env: dict):
        self.root, self.name, self.env = root, name, env
        self.dir = root / name
        self.data_port, self.admin_port = free_port(), free_port()
        args = [str(AEGIS_BIN), "init", "--data-dir", str(self.dir), "--json", "--tls-cert",
                str(certs / "server.crt"), "--tls-key", str(certs / "server.key")]
        if store_url:
            args += ["--store-url", store_url]
        out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
        if out.returncode != 0:
            raise SystemExit(f"aegis init ({name}) failed: {out.stderr.strip()}")
        self.token = json.loads(out.stdout)["admin_token"]
        self.ca = str(certs / "ca.crt")
        config = self.dir / "aegis.toml"
        # One token drives the whole load: above [guard]'s default 1000/s per principal.
        config.write_text(config.read_text().replace('rate = "1000/s"', 'rate = "1000000/s"', 1))
        self.proc = subprocess.Popen(
            [str(AEGIS_BIN), "serve", "--data-dir", str(self.dir), "--listen", f"127.0.0.1:{self.data_port}",
             "--admin-listen", f"127.0.0.1:{self.admin_port}"],
            env=env, stdin=subprocess.DEVNULL, stdout=open(root / f"{name}.log", "wb"), stderr=subprocess.STDOUT)

    def cli(self, *args):
        env = dict(self.env, AEGIS_SERVER=f"https://127.0.0.1:{self.admin_port}", AEGIS_TOKEN=self.token,
                   AEGIS_CACERT=self.ca)
        out = subprocess.run([str(AEGIS_BIN), *map(str, args)], env=env, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise SystemExit(f"aegis {' '.join(map(str, args[:2]))} ({self.name}) failed: {out.stderr.strip()}")

    def wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"https://127.0.0.1:{self.data_port}/v2/health/ready", verify=self.ca,
                                timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not become ready; see {self.root / (self.name + '.log')}")

    def push_mlp(self, key: pathlib.Path, pub: pathlib.Path):
        self.cli("trust", "add", "bench-publisher", "--public-key", pub)
        bundle = self.root / f"{self.name}.sig.json"
        self.cli("model", "sign", MODEL, "--key", key, "--output", bundle, "--force")
        self.cli("model", "push", "mlp", "--version", "1", "--file", MODEL, "--format", "torchscript",
                 "--signature", bundle)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--output", type=pathlib.Path)
    o = ap.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="aegis-store-bench-"))
    state = root / "pg.json"
    subprocess.run(PG_SERVER + ["start", str(state), "--tls"], check=True)
    servers, haproxy = [], None
    try:
        pg = json.loads(state.read_text())
        make_certificate(root)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AEGIS_")}
        url = f"postgresql://aegis@localhost:{pg['port']}/aegis?sslmode=verify-full&sslrootcert={pg['ca']}"
        sqlite = Server(root, "sqlite", root, None, base_env)
        postgres = Server(root, "postgres", root, url, dict(base_env, AEGIS_DB_PASSWORD=pg["password"]))
        servers = [sqlite, postgres]
        key, pub = root / "publisher.key", root / "publisher.pub"
        for s in servers:
            s.wait_ready()
        sqlite.cli("model", "keygen", "--type", "ecdsa-p256", "--private-key", key, "--public-key", pub)
        for s in servers:
            s.push_mlp(key, pub)
        ports = {s.name: free_port() for s in servers}
        frontends = "\n".join(f"""
frontend fe_{s.name}
  bind 127.0.0.1:{ports[s.name]} ssl crt {root / 'haproxy.pem'}
  default_backend be_{s.name}
backend be_{s.name}
  option httpchk GET /v2/health/ready
  default-server check inter 1s ssl verify required ca-file {root / 'ca.crt'} sni str(localhost)
  server {s.name} 127.0.0.1:{s.data_port}""" for s in servers)
        (root / "haproxy.cfg").write_text(f"""
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
{frontends}
""")
        haproxy = subprocess.Popen(["haproxy", "-f", str(root / "haproxy.cfg"), "-db"],
                                   stdout=open(root / "haproxy.log", "wb"), stderr=subprocess.STDOUT)
        reference = json.loads((REPO / "examples" / "reference.json").read_text())["mlp"]["inputs"][0]
        body = {"inputs": [{"name": reference.get("name", "input"), "shape": [1, 4], "datatype": "FP32",
                            "data": reference["data"][:4]}]}
        body_file = root / "body.json"
        body_file.write_text(json.dumps(body))
        answers = {}
        for s in servers:  # the same answer through both, before anything is timed
            deadline = time.monotonic() + 15
            while True:  # HAProxy takes a moment to listen and to see the server up
                try:
                    r = requests.post(f"https://localhost:{ports[s.name]}/v2/models/mlp/infer", json=body,
                                      verify=s.ca, headers={"Authorization": f"Bearer {s.token}"}, timeout=10)
                    if r.status_code == 200 or time.monotonic() > deadline:
                        break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.2)
            if r.status_code != 200:
                raise SystemExit(f"{s.name} through HAProxy: {r.status_code} {r.text[:200]}")
            answers[s.name] = r.json()["outputs"]
        if answers["sqlite"] != answers["postgres"]:
            raise SystemExit("the two installations answer the same request differently")
        results = {s.name: [] for s in servers}
        for run in range(o.runs):
            for s in (servers if run % 2 == 0 else servers[::-1]):
                res = run_wrk(f"https://localhost:{ports[s.name]}/v2/models/mlp/infer", s.token, body_file,
                              o.connections, o.threads, o.duration)
                if res["non_2xx"] or res["socket_errors"]:
                    raise SystemExit(f"{s.name}: {res['non_2xx']} non-2xx, {res['socket_errors']} socket errors")
                results[s.name].append(res)
                log(f"run {run + 1} {s.name}: {res['rps']:.0f} req/s, p50 {res['p50_us']:.0f} us, "
                    f"p99 {res['p99_us']:.0f} us")
        med = {name: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_us", "p99_us")}
               for name, runs in results.items()}
        ratio = med["postgres"]["rps"] / med["sqlite"]["rps"]
        summary = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "duration_s": o.duration, "runs": o.runs, "connections": o.connections, "medians": med,
                   "throughput_ratio_postgres_over_sqlite": round(ratio, 3), "raw": results}
        print(json.dumps({"medians": med, "throughput_ratio_postgres_over_sqlite": round(ratio, 3)}, indent=2))
        if o.output:
            o.output.write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        if haproxy:
            haproxy.terminate()
            haproxy.wait(10)
        for s in servers:
            s.stop()
        subprocess.run(PG_SERVER + ["stop", str(state)], check=False)


if __name__ == "__main__":
    main()
