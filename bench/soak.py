#!/usr/bin/python3
"""Aegis soak benchmark: does resident memory level off under steady load?

Builds nothing: it expects the release binary (build/release/src/cli/aegis, or $AEGIS_BIN).

  /usr/bin/python3 bench/soak.py [--minutes 30] [--interval 60] [--connections 16] [--heaptrack]
                                 [--malloc-stats] [--isolation process|none] [--env MALLOC_ARENA_MAX=2]
                                 [--output FILE]

What it does (see bench/README.md, "Soak"):
  1. One installation (`aegis init` into a temp dir, as bench/run_bench.py does) serving
     examples/mlp.pt as model "mlp" version "1"; confined engine workers unless --isolation none.
  2. A warm-up (--warmup seconds of the same load), then --minutes of wrk with bench/infer.lua at
     --connections connections, run as one wrk per --interval so that every interval has its own
     request count, error count and throughput.
  3. After the warm-up and after every interval: the server's VmRSS, VmHWM, RssAnon, RssFile and Pss,
     and the sum of VmRSS and Pss of its engine workers (the server's descendants). RssFile moves with
     file mappings such as the audit verifier's segment maps (transient); RssAnon is the heap side.
     With --malloc-stats, also glibc's malloc_stats() of the server (through gdb): heap in use by the
     program against heap held by malloc, which tells a leak from allocator behaviour.
  4. Growth: RSS and RssAnon of the server (and PSS of the workers) from the first sample to the
     last, over the first and the second half of the run, and per million requests in the second
     half. A process whose memory levels off grows in the first half (allocator arenas, caches
     reaching their working set) and about nothing in the second.
  5. With --heaptrack the server runs under heaptrack; its profile (heaptrack.aegis.*.zst) is kept
     next to the JSON and the top of `heaptrack_print` (peak and leaked memory by call site) is
     written into the JSON.
  6. Writes bench/results/soak.json (or --output) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import run_bench as rb

HERE = pathlib.Path(__file__).resolve().parent


class SoakAegis(rb.Aegis):
    """An installation whose server may run under heaptrack and with extra environment variables."""

    def __init__(self, root: pathlib.Path, isolation: str, env: dict, heaptrack: pathlib.Path | None):
        super().__init__(root, "aegis", isolation)
        self.extra_env = env
        self.heaptrack = heaptrack  # output prefix, or None
        self.server_pid = None

    def start(self) -> pathlib.Path:
        self.starts += 1
        self.log_path = self.root / f"aegis-serve-{self.starts}.log"
        cmd = [str(rb.AEGIS_BIN), "serve", "--data-dir", str(self.dir), "--listen", f"127.0.0.1:{self.data_port}",
               "--admin-listen", f"127.0.0.1:{self.admin_port}"]
        if self.heaptrack is not None:
            cmd = ["heaptrack", "-o", str(self.heaptrack)] + cmd
        self.proc = subprocess.Popen(cmd, env=dict(os.environ, **self.extra_env), stdin=subprocess.DEVNULL,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        self.server_pid = None
        return self.log_path

    def pid(self) -> int:
        """The server itself: heaptrack's script runs it as a child."""
        if self.server_pid is None:
            self.server_pid = self.proc.pid
            if self.heaptrack is not None:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    kids = [p for p in rb.proc_children(self.proc.pid) if _exe(p) == str(rb.AEGIS_BIN.resolve())]
                    if kids:
                        self.server_pid = kids[0]
                        break
                    time.sleep(0.1)
                else:
                    raise SystemExit("heaptrack: the aegis server process did not appear")
        return self.server_pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.pid(), signal.SIGTERM)  # heaptrack's script waits for it, then writes the profile
            try:
                rc = self.proc.wait(300)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if rc != 0:
                rb.log(f"warning: aegis serve exited with {rc} after SIGTERM")


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def sample(aegis: SoakAegis, t0: float, requests_so_far: int, with_malloc: bool) -> dict:
    pid = aegis.pid()
    status = f"/proc/{pid}/status"
    workers = [rb.proc_memory(p) for p in rb.proc_descendants(pid)]
    return {"t_s": round(time.monotonic() - t0, 1), "requests": requests_so_far, "loadavg_1m": os.getloadavg()[0],
            "server": {"vmrss_kb": rb.proc_kb(status, "VmRSS"), "vmhwm_kb": rb.proc_kb(status, "VmHWM"),
                       "rss_anon_kb": rb.proc_kb(status, "RssAnon"), "rss_file_kb": rb.proc_kb(status, "RssFile"),
                       "pss_kb": rb.proc_kb(f"/proc/{pid}/smaps_rollup", "Pss"),
                       "threads": _threads(pid)},
            "workers": {"processes": len(workers), "vmrss_kb": rb.total(workers, "vmrss_kb"),
                        "pss_kb": rb.total(workers, "pss_kb")},
            "malloc": malloc_stats(aegis) if with_malloc else None}


MALLOC_TOTAL = re.compile(r"Total \(incl\. mmap\):\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)")


def malloc_stats(aegis: SoakAegis) -> dict | None:
    """glibc's own account of the server's heap: gdb calls malloc_stats() in the server, which prints to
    its stderr (the server log). "in use" is what the program holds; "system" what malloc holds from
    the kernel. In use flat while system grows is the allocator; in use growing is the program."""
    if shutil.which("gdb") is None:
        return None
    before = aegis.log_path.stat().st_size
    # Symbols of libc only: loading those of all ~300 libraries (libtorch...) takes minutes.
    subprocess.run(["gdb", "-p", str(aegis.pid()), "-batch", "-nx", "-iex", "set auto-solib-add off",
                    "-ex", r"sharedlibrary libc\.so", "-ex", "call (void)malloc_stats()"],
                   capture_output=True, timeout=300)
    time.sleep(0.2)
    with open(aegis.log_path, "rb") as f:
        f.seek(before)
        text = f.read().decode(errors="replace")
    m = MALLOC_TOTAL.search(text)
    if not m:
        return None
    return {"system_kb": int(m.group(1)) // 1024, "in_use_kb": int(m.group(2)) // 1024,
            "arenas": len(re.findall(r"^Arena \d+:", text, re.M))}


def _threads(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def growth(samples: list[dict], get) -> dict | None:
    """kB growth over the run, over each half, and per million requests in the second half."""
    values = [(s["requests"], get(s)) for s in samples]
    if len(values) < 3 or any(v is None for _, v in values):
        return None
    mid = len(values) // 2
    (_, v0), (rm, vm), (r1, v1) = values[0], values[mid], values[-1]
    second = v1 - vm
    return {"first_kb": v0, "last_kb": v1, "max_kb": max(v for _, v in values), "total_kb": v1 - v0,
            "first_half_kb": vm - v0, "second_half_kb": second,
            "second_half_kb_per_million_requests": round(second / ((r1 - rm) / 1e6), 1) if r1 > rm else None}


def heaptrack_summary(prefix: pathlib.Path) -> dict | None:
    files = sorted(prefix.parent.glob(prefix.name + "*"))
    if not files or shutil.which("heaptrack_print") is None:
        return None
    # Peak consumers (a growing container is at its peak at the end) and what was never freed.
    out = subprocess.run(["heaptrack_print", "--print-peaks", "1", "--print-leaks", "1", "--print-allocators", "0",
                          "--print-temporary", "0", "--peak-limit", "12", str(files[-1])],
                         capture_output=True, text=True, timeout=3600)
    text = out.stdout
    summary = [line for line in text.splitlines() if line.startswith(("total runtime", "calls to allocation",
                                                                      "temporary memory", "peak heap",
                                                                      "peak RSS", "total memory leaked",
                                                                      "suppressed leaks"))]
    report = files[-1].with_suffix(".txt")
    report.write_text(text)
    return {"profile": str(files[-1]), "report": str(report), "summary": summary}


def table(result: dict) -> list[str]:
    lines = [f"{'t (s)':>7}{'requests':>12}{'req/s':>9}{'server RSS':>12}{'RssAnon':>10}{'RssFile':>10}{'server PSS':>12}"
             f"{'workers RSS':>13}{'workers PSS':>13}"
             + (f"{'heap in use':>13}{'heap held':>13}{'arenas':>8}" if result["samples"][0].get("malloc") else "")
             + "  (MiB)"]
    mib = lambda kb: f"{kb / 1024:.1f}" if kb is not None else "n/a"  # noqa: E731
    for s in result["samples"]:
        srv, w = s["server"], s["workers"]
        lines.append(f"{s['t_s']:>7.0f}{s['requests']:>12,}{s.get('rps', 0):>9.0f}{mib(srv['vmrss_kb']):>12}"
                     f"{mib(srv['rss_anon_kb']):>10}{mib(srv.get('rss_file_kb')):>10}{mib(srv['pss_kb']):>12}{mib(w['vmrss_kb']):>13}"
                     f"{mib(w['pss_kb']):>13}" +
                     (f"{mib(s['malloc']['in_use_kb']):>13}{mib(s['malloc']['system_kb']):>13}{s['malloc']['arenas']:>8}"
                      if s.get("malloc") else ""))
    for name, g in result["growth"].items():
        if g:
            lines.append(f"{name}: {g['first_kb'] / 1024:.1f} -> {g['last_kb'] / 1024:.1f} MiB; first half "
                         f"{g['first_half_kb']:+,} kB, second half {g['second_half_kb']:+,} kB "
                         f"({g['second_half_kb_per_million_requests']} kB per million requests)")
    return lines


def main():
    ap = argparse.ArgumentParser(description="Aegis soak: memory under steady load (see bench/README.md)")
    ap.add_argument("--minutes", type=float, default=30, help="load duration in minutes (default 30)")
    ap.add_argument("--interval", type=int, default=60, help="seconds between memory samples (default 60)")
    ap.add_argument("--warmup", type=int, default=20, help="seconds of load before the first sample")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--isolation", default="process", choices=["process", "none"],
                    help="[runtime] isolation of the installation (default: process, confined workers)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment variable for the server, e.g. MALLOC_ARENA_MAX=2 (repeatable)")
    ap.add_argument("--heaptrack", action="store_true", help="run the server under heaptrack")
    ap.add_argument("--malloc-stats", action="store_true",
                    help="with each sample, glibc malloc_stats() of the server through gdb (heap in use vs held)")
    ap.add_argument("--output", default=str(HERE / "results" / "soak.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temp installation")
    args = ap.parse_args()

    if not rb.AEGIS_BIN.is_file():
        sys.exit(f"{rb.AEGIS_BIN} not found: run `make build` first (or set AEGIS_BIN)")
    if shutil.which("wrk") is None:
        sys.exit("wrk not found (apt-get install wrk)")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        rb.log(f"warning: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: few requests per interval "
               "make growth per request noisy")
    if args.heaptrack and shutil.which("heaptrack") is None:
        sys.exit("heaptrack not found (apt-get install heaptrack)")
    env = dict(e.split("=", 1) for e in args.env)
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    profile = output.parent / f"heaptrack.aegis.{os.getpid()}" if args.heaptrack else None

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="aegis-soak-"))
    result = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "host": {"cores": os.cpu_count(), "cpu": rb.cpu_model(), "loadavg_1m_at_start": os.getloadavg()[0]},
              "aegis_bin": str(rb.AEGIS_BIN), "git_commit": rb.git_commit(),
              "config": {"minutes": args.minutes, "interval_s": args.interval, "warmup_s": args.warmup,
                         "connections": args.connections, "threads": args.threads, "isolation": args.isolation,
                         "server_env": env, "heaptrack": args.heaptrack}}
    aegis = None
    try:
        rb.log(f"temp installation in {tmp}")
        aegis = SoakAegis(tmp, args.isolation, env, profile)
        aegis.start()
        rb.wait_200(aegis.url("/v2/health/live"), aegis.ca, aegis.proc, 300, "aegis")
        aegis.push("mlp", "1", rb.MODEL, "torchscript")
        rb.wait_200(aegis.url("/v2/health/ready"), aegis.ca, aegis.proc, 300, "aegis")
        ref = json.loads(rb.REFERENCE.read_text())["mlp"]["inputs"][0]
        body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": ref["data"][:4]}]}
        body_file = tmp / "body.json"
        body_file.write_text(json.dumps(body))
        if rb.infer(aegis, body).status_code != 200:
            raise SystemExit("sanity inference request failed")
        url = aegis.url("/v2/models/mlp/infer")
        rb.log(f"warm-up {args.warmup} s")
        rb.run_wrk(url, aegis.token, body_file, args.connections, args.threads, args.warmup)
        t0 = time.monotonic()
        samples = [sample(aegis, t0, 0, args.malloc_stats)]
        done, errors, end = 0, 0, time.monotonic() + args.minutes * 60
        while time.monotonic() < end - 1:
            seconds = min(args.interval, max(1, int(end - time.monotonic())))
            r = rb.run_wrk(url, aegis.token, body_file, args.connections, args.threads, seconds)
            done += r["requests"]
            errors += r["non_2xx"] + r["socket_errors"]
            s = sample(aegis, t0, done, args.malloc_stats)
            s["rps"] = r["rps"]
            samples.append(s)
            rb.log(f"t={s['t_s']:.0f}s requests={done:,} ({r['rps']:.0f}/s) server RSS "
                   f"{s['server']['vmrss_kb'] / 1024:.1f} MiB, workers PSS "
                   f"{(s['workers']['pss_kb'] or 0) / 1024:.1f} MiB")
        result["samples"] = samples
        result["requests"] = done
        result["errors"] = errors
        result["growth"] = {"server RSS": growth(samples, lambda s: s["server"]["vmrss_kb"]),
                            "server RssAnon": growth(samples, lambda s: s["server"]["rss_anon_kb"]),
                            "workers PSS": growth(samples, lambda s: s["workers"]["pss_kb"])}
        if args.malloc_stats:
            result["growth"]["server heap in use"] = growth(samples, lambda s: (s["malloc"] or {}).get("in_use_kb"))
            result["growth"]["server heap held by malloc"] = growth(
                samples, lambda s: (s["malloc"] or {}).get("system_kb"))
        result["host"]["loadavg_1m_at_end"] = os.getloadavg()[0]
    finally:
        if aegis is not None:
            aegis.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if profile is not None:
        rb.log("analysing the heaptrack profile")
        result["heaptrack"] = heaptrack_summary(profile)
    print("\n".join(table(result)))
    if result.get("heaptrack"):
        print("\n".join(result["heaptrack"]["summary"]))
    output.write_text(json.dumps(result, indent=2) + "\n")
    rb.log(f"wrote {output}")


if __name__ == "__main__":
    main()
