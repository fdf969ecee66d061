"""The tamper-evident audit log from the outside: signed tree heads checked by an
independent implementation (audit_merkle.py), every tampering the issue names
found by `aegis audit verify`, proofs checked by RFC 9162's algorithms, kill -9
under load never leaving a log that fails verification, and the read/export API."""

import json
import random
import shutil
import signal
import threading
import time

import pytest

import audit_merkle as am
from aegis_testlib import (EXAMPLES, aegis, assert_one_line_error, describe, infer_body, project_version,
                           reference_case, start_installation, stop_and_check)


@pytest.fixture(scope="module")
def closed_log(tmp_path_factory):
    """An installation that served traffic and was stopped cleanly: its audit dir."""
    root = tmp_path_factory.mktemp("audit-closed")
    inst = start_installation(root, models=["mlp_onnx"])
    x, _ = reference_case("mlp_onnx")
    for i in range(60):
        assert inst.infer("mlp_onnx", infer_body(x), version="1").status_code == 200
        if i % 10 == 0:
            inst.get("/v2/models/mlp_onnx", token=False)  # a denial
    stop_and_check(inst)
    return inst.dir


def copy_of(data_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(data_dir / "audit", target / "audit")
    return target


def verify(data_dir, *extra):
    return aegis("audit", "verify", "--data-dir", data_dir, *extra)


def verify_json(data_dir, *extra):
    p = verify(data_dir, "--json", *extra)
    return p, json.loads(p.stdout)


def segment(data_dir):
    segs = sorted((data_dir / "audit").glob("segment-*.jsonl"))
    assert segs, "no audit segment"
    return segs[-1]


def rewrite(path, lines):
    path.write_bytes(b"".join(l + b"\n" for l in lines))


# --------------------------------------------------------------------------- intact


def test_independent_check_agrees_with_aegis_verify(closed_log):
    mine = am.check_log(closed_log / "audit")
    p, out = verify_json(closed_log)
    assert p.returncode == 0, describe(p)
    assert out["ok"] is True and out["error"] is None and out["first_bad_event"] is None, out
    assert out["events"] == out["tree_size"] == mine["events"], (out, mine["events"])
    assert out["root"] == mine["root"]
    # The clean shutdown signed everything: the newest head covers the whole log.
    assert mine["heads"][-1]["tree_size"] == mine["events"] == out["signed_tree_size"]
    assert out["unsigned_events"] == 0


def test_log_records_lifecycle_and_requests(closed_log):
    actions = [json.loads(l)["action"] for l in am.check_log(closed_log / "audit")["lines"]]
    for a in ("audit.start", "server.init", "server.start", "model.push", "infer", "server.stop", "audit.stop"):
        assert a in actions, f"{a} not in the log: {sorted(set(actions))}"
    assert actions[-1] == "audit.stop"


def test_pinned_public_key(closed_log, tmp_path):
    meta = json.loads((closed_log / "audit" / "key.json").read_text())
    pinned = tmp_path / "audit.pub"
    pinned.write_text(meta["public_key"])
    p = verify(closed_log, "--public-key", pinned)
    assert p.returncode == 0, describe(p)
    # Another key (an attacker who re-signed everything and swapped key.json) is refused.
    other = tmp_path / "other.pub"
    assert aegis("model", "keygen", "--type", "ed25519", "--private-key", tmp_path / "o.key",
                 "--public-key", other).returncode == 0
    p = verify(closed_log, "--public-key", other)
    assert p.returncode == 1
    assert_one_line_error(p, "aegis:")
    assert "pinned" in p.stderr


# --------------------------------------------------------------------------- tampering


def _expect_bad(data_dir, index=None):
    p, out = verify_json(data_dir)
    assert p.returncode == 1, describe(p)
    assert out["ok"] is False and out["error"], out
    err = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(err) == 1 and err[0].startswith("aegis: audit log verification failed"), p.stderr
    if index is not None:
        assert out["first_bad_event"] == index, out
        assert f"at event {index}" in err[0], err
    # The independent implementation agrees that something is wrong.
    with pytest.raises(Exception):
        am.check_log(data_dir / "audit")
    return out


def test_flipped_byte_is_found_with_its_index(closed_log, tmp_path):
    d = copy_of(closed_log, tmp_path)
    lines = am.read_lines(segment(d))
    target = random.Random(4).randrange(5, len(lines) - 5)
    line = bytearray(lines[target])
    at = line.index(b'"principal":"') + 14
    line[at] ^= 0x20  # still valid JSON: only the hashes can tell
    json.loads(line)
    lines[target] = bytes(line)
    rewrite(segment(d), lines)
    _expect_bad(d, target)


def test_removed_event_is_found(closed_log, tmp_path):
    d = copy_of(closed_log, tmp_path)
    lines = am.read_lines(segment(d))
    del lines[17]
    rewrite(segment(d), lines)
    _expect_bad(d, 17)


def test_reordered_events_are_found(closed_log, tmp_path):
    d = copy_of(closed_log, tmp_path)
    lines = am.read_lines(segment(d))
    lines[30], lines[31] = lines[31], lines[30]
    rewrite(segment(d), lines)
    _expect_bad(d, 30)


def test_dropped_tail_after_a_signed_head_is_found(closed_log, tmp_path):
    d = copy_of(closed_log, tmp_path)
    lines = am.read_lines(segment(d))
    keep = len(lines) - 3
    rewrite(segment(d), lines[:keep])
    out = _expect_bad(d, keep)
    assert "removed from the end" in out["error"]


def test_replaced_segment_is_found(closed_log, tmp_path):
    """A segment rebuilt with consistent seq/prev but other content."""
    d = copy_of(closed_log, tmp_path)
    lines = am.read_lines(segment(d))
    forged, prev = [], b"\x00" * 32
    for i, l in enumerate(lines):
        e = json.loads(l)
        if e.get("principal") == "anonymous":
            e["principal"] = "token:admin"  # hide the denials
        e["seq"], e["prev"] = i, prev.hex()
        body = json.dumps(e, separators=(",", ":")).encode()
        forged.append(body)
        prev = am.leaf_hash(body)
    rewrite(segment(d), forged)
    _expect_bad(d)


def test_forged_head_is_found(closed_log, tmp_path):
    d = copy_of(closed_log, tmp_path)
    heads = am.read_lines(d / "audit" / "heads.jsonl")
    h = json.loads(heads[-1])
    h["tree_size"] -= 1  # claim a smaller log; the signature no longer matches
    heads[-1] = json.dumps(h).encode()
    rewrite(d / "audit" / "heads.jsonl", heads)
    out = _expect_bad(d)
    assert "signed tree head" in out["error"]


def test_missing_key_file_cannot_be_verified(closed_log, tmp_path):
    d = copy_of(closed_log, tmp_path)
    (d / "audit" / "key.json").unlink()
    p = verify(d)
    assert p.returncode == 2
    assert_one_line_error(p, "aegis:")


def test_a_tampered_log_is_refused_at_start_or_flagged_right_after(tmp_path):
    """Start-up verifies from the newest signed checkpoint (the last stop's); the whole log
    is walked in the background right after start."""
    inst = start_installation(tmp_path, models=False)
    stop_and_check(inst)
    # An old event (before the checkpoint): the server starts, and its first background
    # walk records audit.verify_failed naming the event.
    lines = am.read_lines(segment(inst.dir))
    index = next(i for i, l in enumerate(lines) if b'"server.init"' in l)
    lines[index] = lines[index].replace(b'"server.init"', b'"server.xnit"')
    rewrite(segment(inst.dir), lines)
    inst.start()
    failed = inst.wait_audit(lambda e: e.get("action") == "audit.verify_failed", timeout=30)
    assert f"event {index}" in failed["reason"], failed
    stop_and_check(inst)
    # The event right before the newest checkpoint (the stop's audit.stop): refused at start.
    lines = am.read_lines(segment(inst.dir))
    index = max(i for i, l in enumerate(lines) if b'"audit.stop"' in l)
    lines[index] = lines[index].replace(b'"audit.stop"', b'"audit.stap"')
    rewrite(segment(inst.dir), lines)
    inst.start(wait=False)
    assert inst.proc.wait(60) != 0
    err = [l for l in inst.last_stderr.read_text().splitlines() if l.strip() and "aegis:" in l]
    assert err and "failed verification" in err[-1] and f"event {index}" in err[-1], inst.log_tail()


# --------------------------------------------------------------------------- proofs


def test_inclusion_proofs_verify_independently(closed_log):
    mine = am.check_log(closed_log / "audit")
    size = mine["heads"][-1]["tree_size"]
    for event in (0, 1, size // 2, size - 1):
        p = aegis("audit", "prove", "--data-dir", closed_log, "--event", event, "--json")
        assert p.returncode == 0, describe(p)
        proof = json.loads(p.stdout)
        assert proof["leaf_index"] == event and proof["tree_size"] == size
        assert proof["event"].encode() == mine["lines"][event]
        leaf = am.leaf_hash(proof["event"].encode())
        assert leaf.hex() == proof["leaf_hash"]
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        root = bytes.fromhex(proof["head"]["root"])
        am.verify_head(proof["head"], am.public_key(closed_log / "audit"))
        assert am.verify_inclusion(event, size, leaf, path, root)
        assert not am.verify_inclusion(event, size, am.leaf_hash(b"forged"), path, root)


def test_prove_refuses_what_no_head_covers(closed_log):
    size = am.check_log(closed_log / "audit")["heads"][-1]["tree_size"]
    p = aegis("audit", "prove", "--data-dir", closed_log, "--event", size)
    assert_one_line_error(p, "aegis:")
    p = aegis("audit", "prove", "--data-dir", closed_log, "--event", 0, "--tree-size", size + 7)
    assert_one_line_error(p, "aegis:")


def test_consistency_proofs_verify_independently(closed_log):
    heads = am.check_log(closed_log / "audit")["heads"]
    sizes = sorted({h["tree_size"] for h in heads if h["tree_size"] > 0})
    assert len(sizes) >= 2, f"expected several signed heads, got {sizes}"
    pairs = [(sizes[0], sizes[-1]), (sizes[len(sizes) // 2], sizes[-1]), (sizes[-1], sizes[-1])]
    for old, new in pairs:
        p = aegis("audit", "consistency", "--data-dir", closed_log, old, new, "--json")
        assert p.returncode == 0, describe(p)
        out = json.loads(p.stdout)
        proof = [bytes.fromhex(h) for h in out["proof"]]
        old_root, new_root = bytes.fromhex(out["old_head"]["root"]), bytes.fromhex(out["new_head"]["root"])
        assert am.verify_consistency(old, new, old_root, new_root, proof), (old, new)
        if old < new:
            assert not am.verify_consistency(old, new, am.leaf_hash(b"x"), new_root, proof)
    p = aegis("audit", "consistency", "--data-dir", closed_log, sizes[-1], sizes[0])
    assert_one_line_error(p, "aegis:")


# --------------------------------------------------------------------------- live server


def test_heads_are_signed_every_second_while_events_flow(server):
    before = len(am.read_lines(server.dir / "audit" / "heads.jsonl"))
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        server.get("/v2")
        time.sleep(0.02)
    time.sleep(1.2)
    heads = [json.loads(l) for l in am.read_lines(server.dir / "audit" / "heads.jsonl")][before:]
    assert len(heads) >= 3, f"only {len(heads)} heads in 4.7 s of traffic"
    gaps = [(b["timestamp_ms"] - a["timestamp_ms"]) / 1000 for a, b in zip(heads, heads[1:])]
    assert max(gaps) < 2.0, gaps
    key = am.public_key(server.dir / "audit")
    for h in heads:
        am.verify_head(h, key)
    # Offline verification works while the server appends.
    p = verify(server.dir)
    assert p.returncode == 0, describe(p)


def test_read_api_pages_from_a_seq_and_a_time(server):
    r = server.get("/v1/audit?limit=5", admin=True)
    assert r.status_code == 200
    newest = r.json()["events"][-1]["seq"]
    r = server.get(f"/v1/audit?from_seq={newest - 20}&limit=10", admin=True)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["seq"] for e in page["events"]] == list(range(newest - 20, newest - 10))
    assert page["next_seq"] == newest - 10
    since = page["events"][3]["time"]
    r = server.get("/v1/audit", admin=True, params={"since": since, "limit": 10000})
    assert r.status_code == 200
    assert all(e["time"] >= since for e in r.json()["events"])
    for bad in ("since=yesterday", "since=2026-13-01T00:00:00Z", "from_seq=-1", "limit=0", "limit=10001"):
        r = server.get(f"/v1/audit?{bad}", admin=True)
        assert r.status_code == 400 and "error" in r.json(), (bad, r.text)


def test_cli_show_since_and_export(server, tmp_path):
    server.get("/v2")
    assert server.get("/v2", token=False).status_code == 401
    time.sleep(0.2)
    p = aegis("audit", "show", "--since", "2m", "--json", *server.cli_flags())
    assert p.returncode == 0, describe(p)
    events = json.loads(p.stdout)["events"]
    assert events and any(e["action"] == "server.metadata" for e in events)
    p = aegis("audit", "export", "--since", "1h", "--format", "jsonl", *server.cli_flags(), timeout=120)
    assert p.returncode == 0, describe(p)
    exported = [json.loads(l) for l in p.stdout.splitlines()]
    seqs = [e["seq"] for e in exported]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(exported) > 10
    p = aegis("audit", "export", "--since", "1h", "--format", "cef", *server.cli_flags(), timeout=120)
    assert p.returncode == 0, describe(p)
    cef = p.stdout.splitlines()
    assert len(cef) >= len(exported)
    for line in cef:
        assert line.startswith(f"CEF:0|Aegis|Aegis Model Server|{project_version()}|"), line
        header = line.split("|")
        assert len(header) >= 8 and header[6] in ("3", "5", "7"), line
    assert any("outcome=deny" in l and "|7|" in l for l in cef), "no denial exported as severity 7"
    for args in (["--since", "soon"], ["--since", "1h", "--format", "xml"]):
        p = aegis("audit", "export", *args, *server.cli_flags())
        assert_one_line_error(p, "aegis:")


# --------------------------------------------------------------------------- crashes


def test_kill_9_under_load_never_leaves_a_log_that_fails_verification(tmp_path):
    inst = start_installation(tmp_path, models=["mlp_onnx"])
    x, _ = reference_case("mlp_onnx")
    body = infer_body(x)
    rng = random.Random(9)
    try:
        for round_ in range(4):
            stop = threading.Event()

            def load():
                while not stop.is_set():
                    try:
                        inst.infer("mlp_onnx", body, version="1", timeout=5)
                    except Exception:
                        return

            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.5 + rng.random())
            inst.proc.send_signal(signal.SIGKILL)
            inst.proc.wait(10)
            stop.set()
            for t in threads:
                t.join(10)
            before = am.read_log(inst.dir / "audit")[0]
            p, out = verify_json(inst.dir)
            assert p.returncode == 0, f"round {round_}: " + describe(p)
            inst.start()
            inst.wait_ready(60)
            # Restarting keeps every complete event and signs the unsigned tail.
            inst.get("/v2")
            after = am.read_log(inst.dir / "audit")[0]
            assert after[:len(before)] == before, f"round {round_}: events before the kill changed"
            time.sleep(1.5)
            summary = am.check_log(inst.dir / "audit")
            assert summary["heads"][-1]["tree_size"] >= len(before), "the recovered tail was not signed"
            starts = [json.loads(l) for l in after[len(before):] if b'"audit.start"' in l]
            assert starts, "no audit.start after the restart"
    finally:
        stop_and_check(inst)
    p = verify(inst.dir)
    assert p.returncode == 0, describe(p)
