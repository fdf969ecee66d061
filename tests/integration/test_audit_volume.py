"""Audit volume: [audit] inference_events = "summary" from the outside — successful
inferences counted into signed summary events, denials and errors kept one by one,
nothing lost at SIGTERM, and the log still verifying with Aegis's verifier and the
independent one (audit_merkle.py)."""

import json
import re
import subprocess
import time

import pytest

import audit_merkle as am
from aegis_testlib import aegis, infer_body, reference_case, start_installation, stop_and_check


def counted(events, **match):
    return sum(e["summary"]["count"] for e in events
               if e.get("action") == "infer.summary" and all(e.get(k) == v for k, v in match.items()))


@pytest.fixture(scope="module")
def summary_server(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("audit-summary"), models=["mlp_onnx"],
                              config={("audit", "inference_events"): "summary"})
    yield inst
    stop_and_check(inst)


def summarized_metric(inst) -> float:
    r = inst.get("/metrics", admin=True)
    assert r.status_code == 200, r.text[:300]
    m = re.search(r"^aegis_audit_events_summarized_total (\S+)$", r.text, re.M)
    assert m, "aegis_audit_events_summarized_total is not exported"
    return float(m.group(1))


def test_summary_mode_counts_successes_keeps_failures_and_loses_nothing_at_sigterm(summary_server):
    inst = summary_server
    x, _ = reference_case("mlp_onnx")
    resource = "model:mlp_onnx/versions/1"
    summarized_before = summarized_metric(inst)
    for _ in range(40):
        assert inst.infer("mlp_onnx", infer_body(x), version="1").status_code == 200
    assert inst.infer("mlp_onnx", infer_body(x), version="1", token=False).status_code == 401
    assert inst.infer("mlp_onnx", {"inputs": "nope"}, version="1").status_code == 400

    # A window's summary is written about a second after it ends, without more traffic.
    inst.wait_audit(lambda e: counted(inst.audit_events(), resource=resource) == 40, timeout=10,
                    what="summaries of 40 inferences")
    # The counter rises by the successes only: the denial and the error have their own events.
    assert summarized_metric(inst) - summarized_before == 40
    events = inst.audit_events()
    individual = [e for e in events if e.get("action") == "infer" and e.get("resource") == resource]
    assert sorted(e["status"] for e in individual) == [400, 401], individual
    assert all(e["request_id"] for e in individual)
    for s in (e for e in events if e.get("action") == "infer.summary"):
        assert s["principal"] == "token:admin" and s["remote"] == "127.0.0.1" and s["decision"] == "allow", s
        assert s["summary"]["window_ms"] == 1000
        lat = s["summary"]["latency_us"]
        assert 0 <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"] == s["latency_us"], s
        assert sum(s["summary"]["statuses"].values()) == s["summary"]["count"]

    # Read through the server: `aegis audit show` prints what a summary counted.
    p = aegis("audit", "show", "--limit", "100", *inst.cli_flags())
    assert p.returncode == 0, p.stderr
    assert "infer.summary" in p.stdout and " requests in 1000 ms; " in p.stdout, p.stdout

    # A burst right before SIGTERM: its open window is written at shutdown.
    for _ in range(10):
        assert inst.infer("mlp_onnx", infer_body(x), version="1").status_code == 200
    stop_and_check(inst)
    events = inst.audit_events()
    assert counted(events, resource=resource) == 50
    stop_at = max(i for i, e in enumerate(events) if e["action"] == "audit.stop")
    last_summary = max(i for i, e in enumerate(events) if e["action"] == "infer.summary")
    assert last_summary < stop_at, "a summary was written after audit.stop"

    checked = am.check_log(inst.dir / "audit")
    assert checked["heads"][-1]["tree_size"] == checked["events"], "the summaries are not all signed"
    p = aegis("audit", "verify", "--data-dir", inst.dir, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["root"] == checked["root"]


# --------------------------------------------------------------------------- compressed segments


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """A server with the smallest segments (64 KiB), so that a few hundred requests seal some."""
    inst = start_installation(tmp_path_factory.mktemp("audit-segmented"), models=False,
                              config={("audit", "segment_max_bytes"): 65536})
    session = inst.session()
    for _ in range(400):
        assert session.get(inst.url("/v2")).status_code == 200
    yield inst
    stop_and_check(inst)


def wait_until_still(audit_dir, quiet: float = 1.5, timeout: float = 15):
    """Until no file of the log has changed for `quiet` seconds (events and their head written)."""
    def state():
        return sorted((p.name, p.stat().st_size) for p in audit_dir.iterdir() if p.is_file())
    deadline = time.monotonic() + timeout
    last, since = state(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = state()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError(f"the audit log kept changing for {timeout} s")


def test_sealed_segments_are_compressed_and_verify_to_the_same_root(segmented):
    inst = segmented
    audit_dir = inst.dir / "audit"
    inst.wait_audit(lambda e: any(audit_dir.glob("segment-*.jsonl.zst")), timeout=30, what="a compressed segment")
    plain = sorted(audit_dir.glob("segment-*.jsonl"))
    packed = sorted(audit_dir.glob("segment-*.jsonl.zst"))
    assert packed and plain and plain[-1].name > packed[-1].name, (plain, packed)  # the newest stays plain
    assert sum(p.stat().st_size for p in packed) * 4 < 65536 * len(packed), "compression saved less than 4x"
    # The server is still appending (the reads above are audited, and signed within a second):
    # both checkers must see the same log, so compare once it has been still for a while.
    wait_until_still(audit_dir)
    checked = am.check_log(audit_dir)  # the independent checker reads them with the zstd CLI
    p = aegis("audit", "verify", "--data-dir", inst.dir, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout)
    assert report["events"] == checked["events"] and report["root"] == checked["root"]


# --------------------------------------------------------------------------- archive


def test_archive_moves_sealed_segments_out_and_both_halves_verify(segmented, tmp_path):
    inst = segmented
    audit_dir = inst.dir / "audit"
    inst.wait_audit(lambda e: any(audit_dir.glob("segment-*.jsonl.zst")), timeout=30, what="a compressed segment")
    out = tmp_path / "cold"
    p = aegis("audit", "archive", "--data-dir", inst.dir, "--before", "0s", "--output", out, env=inst.env())
    assert p.returncode != 0 and "stop it first" in p.stderr, p.stdout + p.stderr  # the server holds the lock
    stop_and_check(inst)
    whole = am.check_log(audit_dir)

    p = aegis("audit", "archive", "--data-dir", inst.dir, "--before", "0s", "--output", out, "--json", env=inst.env())
    assert p.returncode == 0, p.stdout + p.stderr
    moved = json.loads(p.stdout)
    assert moved["first_event"] == 0 and moved["segments"] >= 1
    end = moved["end_event"]
    # The archive verifies on its own (Aegis against the installation's key, and independently).
    p = aegis("audit", "verify", "--archive", out, "--data-dir", inst.dir, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout)
    assert report["first_event"] == 0 and report["events"] == end and report["root"] == moved["root"]
    archived = am.check_log(out)
    assert archived["lines"] == whole["lines"][:end]
    # The live log starts at the archive's end, verifies from the checkpoint there, and
    # recorded the archive; a server starts on it again.
    assert min(int(s.name[8:28]) for s in audit_dir.glob("segment-*")) == end
    p = aegis("audit", "verify", "--data-dir", inst.dir, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["first_event"] == end
    event = inst.wait_audit(lambda e: e.get("action") == "audit.archive", timeout=5)
    assert f"events 0 to {end - 1}" in event["reason"], event
    inst.start()
    # An altered archive is found.
    seg = sorted(out.glob("segment-*"))[0]
    seg.write_bytes(seg.read_bytes()[:-5])
    p = aegis("audit", "verify", "--archive", out, "--data-dir", inst.dir)
    assert p.returncode == 1, p.stdout + p.stderr


# --------------------------------------------------------------------------- archive while serving

# The server's archiving age is the signed time its checkpoints were sealed at, which
# nothing outside the server can backdate. So the test moves the server's wall clock
# instead, as libfaketime would: an LD_PRELOAD shim (built here; nothing in Aegis
# knows of it) adds AEGIS_TEST_CLOCK_SHIFT seconds to CLOCK_REALTIME.
CLOCK_SHIFT_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
int clock_gettime(clockid_t id, struct timespec *ts) {
  static int (*real)(clockid_t, struct timespec *);
  static long shift = -1;
  if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  if (shift < 0) { const char *s = getenv("AEGIS_TEST_CLOCK_SHIFT"); shift = s ? atol(s) : 0; }
  int rc = real(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += shift;
  return rc;
}
"""


def clock_shift_library(tmp_path):
    src, lib = tmp_path / "clock_shift.c", tmp_path / "libclock_shift.so"
    src.write_text(CLOCK_SHIFT_C)
    proc = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", lib, src, "-ldl"], capture_output=True, text=True)
    # setup.sh installs the compiler the build needs: no compiler is a broken machine, not a skip.
    assert proc.returncode == 0, f"cannot build the clock shim: {proc.stderr[:300]}"
    return lib


def metric(inst, name) -> float:
    r = inst.get("/metrics", admin=True)
    assert r.status_code == 200, r.text[:300]
    m = re.search(rf"^{name} (\S+)$", r.text, re.M)
    assert m, f"{name} is not exported"
    return float(m.group(1))


def test_server_archives_old_sealed_segments_while_serving(tmp_path_factory, tmp_path):
    cold = tmp_path / "cold"  # created 0700 by the server
    inst = start_installation(tmp_path_factory.mktemp("audit-archiving"), models=False,
                              config={("audit", "segment_max_bytes"): 65536,
                                      ("audit", "archive_dir"): str(cold), ("audit", "archive_after_days"): 1})
    try:
        session = inst.session()
        for _ in range(400):
            assert session.get(inst.url("/v2")).status_code == 200
        audit_dir = inst.dir / "audit"
        inst.wait_audit(lambda e: len(list(audit_dir.glob("segment-*"))) >= 3, timeout=10, what="sealed segments")
        # Nothing is a day old: the server's first run (at start) archived nothing.
        assert metric(inst, "aegis_audit_archived_segments_total") == 0
        assert not any(e["action"] == "audit.archive" for e in inst.audit_events())
        # The offline command still refuses while the server runs, and names the way.
        p = aegis("audit", "archive", "--data-dir", inst.dir, "--before", "0s", "--output", tmp_path / "x",
                  env=inst.env())
        assert p.returncode != 0 and "[audit] archive_dir" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr

        # Two days later (the clock shim), the server archives at start, while serving.
        inst.stop()
        sealed = sorted(audit_dir.glob("segment-*"))[:-1]
        inst.start(extra_env={"LD_PRELOAD": str(clock_shift_library(tmp_path)),
                              "AEGIS_TEST_CLOCK_SHIFT": str(2 * 86400)})
        event = inst.wait_audit(lambda e: e.get("action") == "audit.archive", timeout=15, what="audit.archive")
        assert str(cold / "events-00000000000000000000") in event["reason"], event
        assert metric(inst, "aegis_audit_archived_segments_total") >= len(sealed)
        assert metric(inst, "aegis_audit_archive_failures_total") == 0
        assert oct(cold.stat().st_mode & 0o777) == "0o700"
        assert "archived" in inst.log_text() and "sealed segment(s)" in inst.log_text()
        assert inst.get("/v2").status_code == 200  # still serving

        # Both halves verify, with Aegis's verifier (the server still running) and the independent one.
        folder = cold / "events-00000000000000000000"
        p = aegis("audit", "verify", "--archive", folder, "--data-dir", inst.dir, "--json")
        assert p.returncode == 0, p.stdout + p.stderr
        archived = json.loads(p.stdout)
        assert archived["first_event"] == 0 and archived["events"] > 0
        p = aegis("audit", "verify", "--data-dir", inst.dir, "--json")
        assert p.returncode == 0, p.stdout + p.stderr
        assert json.loads(p.stdout)["first_event"] == archived["events"]
        assert am.check_log(folder)["events"] == archived["events"]
    finally:
        stop_and_check(inst)
