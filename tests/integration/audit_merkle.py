"""An independent implementation of the audit log's checks (RFC 6962 / RFC 9162 and
the documented signed-tree-head format), in Python with hashlib and
python3-cryptography, so the tests never trust Aegis to check itself."""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import subprocess
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH by the recursive definition (RFC 6962 §2.1)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def root_incremental(leaves: list[bytes]) -> bytes:
    """The same root in O(n), for long logs."""
    stack: list[tuple[int, bytes]] = []
    for leaf in leaves:
        h, size = leaf, 1
        while stack and stack[-1][0] == size:
            h = node_hash(stack.pop()[1], h)
            size *= 2
        stack.append((size, h))
    if not stack:
        return hashlib.sha256(b"").digest()
    root = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        root = node_hash(h, root)
    return root


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if m == n:
        return not proof and old_root == new_root
    if m == 0 or m > n or not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def head_signing_input(head: dict) -> bytes:
    """V1 for a log that names no replica; V2 adds the replica, length-prefixed (docs/audit.md)."""
    fixed = struct.pack(">QQ", head["tree_size"], head["timestamp_ms"]) + bytes.fromhex(head["root"])
    if "replica" not in head:
        return b"AEGIS-AUDIT-STH-V1\x00" + fixed
    replica = head["replica"].encode("ascii")
    assert 1 <= len(replica) <= 63, "a replica id has 1 to 63 characters"
    return b"AEGIS-AUDIT-STH-V2\x00" + fixed + bytes([len(replica)]) + replica


def public_key(audit_dir: pathlib.Path) -> Ed25519PublicKey:
    meta = json.loads((audit_dir / "key.json").read_text())
    key = serialization.load_pem_public_key(meta["public_key"].encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert hashlib.sha256(der).hexdigest() == meta["key_id"], "key.json: key_id is not the key's fingerprint"
    assert isinstance(key, Ed25519PublicKey)
    return key


def verify_head(head: dict, key: Ed25519PublicKey) -> None:
    """Raises cryptography's InvalidSignature when the head is not signed by key."""
    key.verify(base64.b64decode(head["signature"]), head_signing_input(head))


def segment_bytes(path: pathlib.Path) -> bytes:
    """A segment's event bytes: sealed segments are zstd-compressed (decompressed with the zstd CLI)."""
    if path.name.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    return path.read_bytes()


def segments(audit_dir: pathlib.Path) -> list[pathlib.Path]:
    """segment-*.jsonl and segment-*.jsonl.zst by first seq (the plain one when both exist)."""
    by_seq = {}
    for p in sorted(audit_dir.glob("segment-*.jsonl*")):
        if p.name.endswith(".jsonl") or p.name.endswith(".jsonl.zst"):
            seq = int(p.name[len("segment-"):].split(".")[0])
            if seq not in by_seq or p.name.endswith(".jsonl"):
                by_seq[seq] = p
    return [by_seq[s] for s in sorted(by_seq)]


def read_lines(path: pathlib.Path) -> list[bytes]:
    data = segment_bytes(path)
    lines = data.split(b"\n")
    return lines[:-1]  # the part after the last newline is a torn write (or empty)


def read_log(audit_dir: pathlib.Path) -> tuple[list[bytes], list[dict]]:
    """(event lines in order, signed heads) of an audit directory."""
    lines: list[bytes] = []
    for seg in segments(audit_dir):
        assert int(seg.name[len("segment-"):].split(".")[0]) == len(lines), f"segment {seg.name} out of place"
        lines += read_lines(seg)
    heads_path = audit_dir / "heads.jsonl"
    heads = [json.loads(l) for l in read_lines(heads_path)] if heads_path.exists() else []
    return lines, heads


def check_log(audit_dir: pathlib.Path) -> dict:
    """Everything `aegis audit verify` promises, independently: returns a summary."""
    key = public_key(audit_dir)
    lines, heads = read_log(audit_dir)
    leaves = [leaf_hash(l) for l in lines]
    prev = b"\x00" * 32
    for i, line in enumerate(lines):
        event = json.loads(line)
        assert event["seq"] == i, f"event {i} carries seq {event['seq']}"
        assert bytes.fromhex(event["prev"]) == prev, f"event {i}: prev is not the leaf hash of event {i - 1}"
        prev = leaves[i]
    last_size, last_time, replica = 0, 0, None
    for h in heads:
        verify_head(h, key)
        assert replica is None or h.get("replica") == replica, "a head renames the log's replica"
        replica = h.get("replica", replica)
        assert h["tree_size"] >= last_size and h["timestamp_ms"] >= last_time, "heads go backwards"
        assert h["tree_size"] <= len(leaves), "a head covers more events than the log has"
        assert root_incremental(leaves[:h["tree_size"]]).hex() == h["root"], f"root mismatch at {h['tree_size']}"
        last_size, last_time = h["tree_size"], h["timestamp_ms"]
    return {"events": len(lines), "root": root_incremental(leaves).hex(), "heads": heads, "lines": lines,
            "leaves": leaves, "replica": replica}
