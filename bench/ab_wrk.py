#!/usr/bin/python3
"""A/B cost of a change per request: two aegis binaries side by side, the same wrk load on each,
interleaved round by round so drift on the machine hits both alike; medians reported.

Each binary gets its own `aegis init` installation (defaults) with examples/mlp.pt pushed as
`mlp`, and wrk POSTs the one-row inference request of bench/run_bench.py (bench/infer.lua):
throughput at --connections (wrk -t2) and latency at one connection (wrk -t1 -c1).

    /usr/bin/python3 bench/ab_wrk.py --a /tmp/aegis-main --b build/release/src/cli/aegis --runs 5
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="baseline binary")
    ap.add_argument("--b", required=True, help="changed binary")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    import aegis_testlib
    from run_bench import run_wrk  # the same wrk invocation and parsing as the main benchmark

    reference = json.loads((aegis_testlib.EXAMPLES / "reference.json").read_text())["mlp"]["inputs"][0]
    row = {**reference, "shape": [1, reference["shape"][1]], "data": reference["data"][:reference["shape"][1]]}
    results = {"a": {"tput": [], "p50": []}, "b": {"tput": [], "p50": []}}
    with tempfile.TemporaryDirectory() as tmp:
        body_file = pathlib.Path(tmp) / "body.json"
        body_file.write_text(json.dumps({"inputs": [row]}))
        servers = {}
        try:
            for key in ("a", "b"):
                aegis_testlib.AEGIS_BIN = os.path.abspath(getattr(args, key))
                inst = aegis_testlib.Installation(pathlib.Path(tmp) / key)
                inst.init()
                inst.start()
                inst.push_ok("mlp", "1", aegis_testlib.EXAMPLES / "mlp.pt", "torchscript")
                inst.wait_ready(60)
                r = inst.infer("mlp", {"inputs": [row]})
                assert r.status_code == 200, r.text
                servers[key] = inst
            url = {k: s.url("/v2/models/mlp/infer") for k, s in servers.items()}
            for key, s in servers.items():  # warm-up
                run_wrk(url[key], s.token, body_file, args.connections, 2, 2)
            for i in range(args.runs):
                for key, s in servers.items():
                    results[key]["tput"].append(run_wrk(url[key], s.token, body_file, args.connections, 2,
                                                        args.duration)["rps"])
                for key, s in servers.items():
                    results[key]["p50"].append(run_wrk(url[key], s.token, body_file, 1, 1, args.duration)["p50_us"])
                print(f"round {i + 1}: " + ", ".join(f"{k} {v['tput'][-1]:.0f} req/s p50 {v['p50'][-1]:.0f} us"
                                                     for k, v in results.items()), flush=True)
        finally:
            for s in servers.values():
                s.stop()
    summary = {k: {"rps_median": statistics.median(v["tput"]), "p50_us_median": statistics.median(v["p50"]),
                   "rps_runs": v["tput"], "p50_us_runs": v["p50"]} for k, v in results.items()}
    summary["b_over_a_rps"] = round(summary["b"]["rps_median"] / summary["a"]["rps_median"], 3)
    summary["b_minus_a_p50_us"] = round(summary["b"]["p50_us_median"] - summary["a"]["p50_us_median"], 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
