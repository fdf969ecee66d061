"""Model supply-chain integrity on the server: the trust store, signed pushes, the scanner
on the push path, revocation, and re-verification at every load.

Bundles are made by tests/integration/oms.py, an OMS v1.0 implementation independent of
Aegis's C++ one. Every refused push must be a 422 naming the reason, leave nothing in the
registry, be audited as an integrity failure (decision deny) and leave the server up.
"""

import base64
import hashlib
import io
import json
import os
import pickle
import zipfile

import pytest

import oms
from aegis_testlib import (EXAMPLES, Installation, aegis, assert_one_line_error, check_json_error, describe,
                           infer_body, reference_case, start_installation, stop_and_check)

MLP_ONNX = (EXAMPLES / "mlp.onnx").read_bytes()


def refused(server, name, r, reason_fragment):
    """A 422 integrity refusal naming `reason_fragment`, nothing registered, audited as deny."""
    body = check_json_error(r, 422, name)
    assert body["error"].startswith("integrity check failed: "), body
    assert reason_fragment in body["error"], f"expected {reason_fragment!r} in {body['error']!r}"
    listed = server.get("/v1/models", admin=True).json()["models"]
    assert not any(m["name"] == name for m in listed), f"refused model {name} was registered"
    event = server.wait_audit(lambda e: e.get("action") == "model.push" and name in e.get("resource", "")
                              and e.get("status") == 422, what=f"refused push of {name}")
    assert event["decision"] == "deny" and event["reason"].startswith("integrity check failed"), event
    assert server.get("/v2/health/live", token=False).status_code == 200
    return body


def resign(stmt, key, payload_type=oms.PAYLOAD_TYPE):
    return oms.bundle_for_statement(stmt, key, payload_type=payload_type)


# --------------------------------------------------------------------------- signatures


def test_signed_push_records_the_signer(server):
    r = server.push("sc_signed", "1", MLP_ONNX, "onnx")
    assert r.status_code == 201, r.text
    sig = r.json()["signature"]
    assert sig["signer"] == "test-publisher", sig
    digest = hashlib.sha256(MLP_ONNX).digest()
    assert sig["subject_digest"] == hashlib.sha256(digest).hexdigest(), sig
    meta = server.get("/v2/models/sc_signed").json()
    assert meta["signature"] == sig, meta


def test_unsigned_push_is_refused(server):
    refused(server, "sc_unsigned", server.push("sc_unsigned", "1", MLP_ONNX, "onnx", sign=False),
            "signature bundle from a trusted publisher is required")


def test_untrusted_key_is_refused(server):
    stranger = oms.generate_key()
    bundle = oms.sign_bytes(MLP_ONNX, stranger)
    refused(server, "sc_untrusted", server.push("sc_untrusted", "1", MLP_ONNX, "onnx", bundle=bundle),
            "not signed by a key trusted")


def test_one_changed_byte_is_refused(server):
    bundle = oms.sign_bytes(MLP_ONNX, server.publisher)
    changed = bytearray(MLP_ONNX)
    changed[len(changed) // 2] ^= 1
    server.trust_publisher()
    refused(server, "sc_changed", server.push("sc_changed", "1", bytes(changed), "onnx", bundle=bundle),
            "not the signed model")


def test_changed_payload_type_is_refused(server):
    server.trust_publisher()
    stmt = oms.decode_statement(oms.sign_bytes(MLP_ONNX, server.publisher))
    # Validly signed by the trusted key, but over another payload type: DSSE binds it.
    bundle = resign(stmt, server.publisher, payload_type="application/json")
    refused(server, "sc_ptype", server.push("sc_ptype", "1", MLP_ONNX, "onnx", bundle=bundle), "payloadType")
    # And a payloadType edited after signing no longer verifies.
    doc = json.loads(oms.sign_bytes(MLP_ONNX, server.publisher))
    doc["dsseEnvelope"]["payloadType"] = "application/vnd.in-toto+jsonx"
    refused(server, "sc_ptype2", server.push("sc_ptype2", "1", MLP_ONNX, "onnx", bundle=json.dumps(doc).encode()),
            "signature bundle")


def test_reordered_resources_are_refused(server):
    server.trust_publisher()
    d = hashlib.sha256(MLP_ONNX).hexdigest()
    resources = [{"algorithm": "sha256", "digest": d, "name": "z.onnx"},
                 {"algorithm": "sha256", "digest": d, "name": "a.onnx"}]
    ser = {"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": []}
    bundle = resign(oms.statement("model", resources, ser), server.publisher)
    refused(server, "sc_order", server.push("sc_order", "1", MLP_ONNX, "onnx", bundle=bundle), "sorted")


def test_garbage_bundles_are_refused_without_reading_the_body(server):
    server.trust_publisher()
    for i, bundle in enumerate([b"{", b"[]", b"null", b'{"mediaType": 1}', b"\xff\xfe" * 10,
                                json.dumps({"mediaType": oms.BUNDLE_MEDIA_TYPE}).encode()]):
        name = f"sc_garbage{i}"
        refused(server, name, server.push(name, "1", MLP_ONNX, "onnx", bundle=bundle), "signature bundle")
    r = server.push("sc_not_b64", "1", MLP_ONNX, "onnx", sign=False,
                    headers={"Aegis-Signature-Bundle": "%%%not base64%%%"})
    check_json_error(r, 400, "a bundle header that is not base64")


def test_pretty_sharded_bundle_from_another_implementation(server):
    """OMS `shards` serialization, pretty-printed, from the independent implementation."""
    server.trust_publisher()
    shard = 1000
    resources = []
    for start in range(0, len(MLP_ONNX), shard):
        end = min(start + shard, len(MLP_ONNX))
        resources.append({"algorithm": f"sha256", "digest": hashlib.sha256(MLP_ONNX[start:end]).hexdigest(),
                          "name": f"mlp.onnx:{start}:{end}"})
    resources.sort(key=lambda r: r["name"])
    ser = {"method": "shards", "hash_type": "sha256", "allow_symlinks": False, "shard_size": float(shard),
           "ignore_paths": []}
    stmt = oms.statement("mlp", resources, ser)
    payload = json.dumps(stmt, indent=2).encode()
    sig = oms._sign(server.publisher, oms.pae(oms.PAYLOAD_TYPE, payload))
    bundle = json.dumps({"dsseEnvelope": {"signatures": [{"sig": base64.b64encode(sig).decode()}],
                                          "payloadType": oms.PAYLOAD_TYPE,
                                          "payload": base64.b64encode(payload).decode()},
                         "verificationMaterial": {"publicKey": {"hint": "x"}, "tlogEntries": []},
                         "mediaType": oms.BUNDLE_MEDIA_TYPE}, indent=4).encode()
    r = server.push("sc_shards", "1", MLP_ONNX, "onnx", bundle=bundle)
    assert r.status_code == 201, r.text


# --------------------------------------------------------------------------- scanner on the push path


def evil_pickle(protocol: int) -> bytes:
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch /tmp/aegis-pwned",))
    return pickle.dumps(Evil(), protocol=protocol)


@pytest.mark.parametrize("fmt", ["onnx", "xgboost", "torchscript"])
def test_signed_pickle_is_refused_by_the_scanner(server, fmt):
    name = f"sc_pickle_{fmt}"
    r = server.push(name, "1", evil_pickle(4), fmt)  # validly signed: the scanner must still stop it
    body = refused(server, name, r, "scanner")
    assert "system" in body["error"], body
    assert not os.path.exists("/tmp/aegis-pwned")


def test_torch_save_archive_is_refused(server):
    import torch
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)  # no payload: still an unsafe format
    refused(server, "sc_torchsave", server.push("sc_torchsave", "1", buf.getvalue(), "torchscript"), "torch.save")


def test_zip_slip_entry_is_refused(server):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in zipfile.ZipFile(EXAMPLES / "mlp.pt").infolist():
            z.writestr(info, zipfile.ZipFile(EXAMPLES / "mlp.pt").read(info))
        z.writestr("../../etc/evil", b"x")
    refused(server, "sc_zipslip", server.push("sc_zipslip", "1", buf.getvalue(), "torchscript"), "scanner")


def test_format_must_match_the_content(server):
    refused(server, "sc_mismatch", server.push("sc_mismatch", "1", MLP_ONNX, "xgboost"), "not xgboost")


# --------------------------------------------------------------------------- trust store


def test_trust_cli_add_list_remove_withdraws(tmp_path):
    inst = start_installation(tmp_path, models=False)
    try:
        key = oms.generate_key("ed25519")
        pub = tmp_path / "team.pub"
        pub.write_text(oms.public_pem(key))
        env = inst.cli_env()
        p = aegis("trust", "add", "team", "--public-key", pub, "--models", "fraud-*", "--json", env=env)
        assert p.returncode == 0, describe(p)
        added = json.loads(p.stdout)
        assert added["key_type"] == "ed25519" and added["models"] == "fraud-*", added
        p = aegis("trust", "add", "team2", "--public-key", pub, env=env)
        assert_one_line_error(p, "aegis: ")
        assert "already trusted" in p.stderr, p.stderr
        p = aegis("trust", "list", env=env)
        assert p.returncode == 0 and "team" in p.stdout and "fraud-*" in p.stdout, describe(p)

        bundle = oms.sign_bytes(MLP_ONNX, key)
        # Out of the key's scope.
        r = inst.push("mlp", "1", MLP_ONNX, "onnx", bundle=bundle)
        assert r.status_code == 422 and "no key in the trust store may sign model 'mlp'" in r.text, r.text
        r = inst.push("fraud-x", "1", MLP_ONNX, "onnx", bundle=bundle)
        assert r.status_code == 201, r.text
        x, _ = reference_case("mlp_onnx")
        assert inst.infer("fraud-x", infer_body(x)).status_code == 200

        p = aegis("trust", "remove", "team", "--json", env=env)
        assert p.returncode == 0, describe(p)
        assert json.loads(p.stdout)["withdrawn_versions"] == ["fraud-x/1"], p.stdout
        check_json_error(inst.infer("fraud-x", infer_body(x)), 503, "a version whose signer was removed")
        # The version answers 503 by itself; the server stays ready for the others.
        check_json_error(inst.get("/v2/models/fraud-x/ready"), 503, "model ready of a withdrawn version")
        assert inst.get("/v2/health/ready", token=False).status_code == 200
        inst.wait_audit(lambda e: e.get("action") == "trust.remove" and e.get("status") == 200)
        inst.wait_audit(lambda e: e.get("action") == "trust.add" and e.get("status") == 201)
        p = aegis("trust", "remove", "team", env=env)
        assert_one_line_error(p, "aegis: ")

        # Still unserved after a restart: the signer is not trusted any more.
        assert inst.stop() == 0
        inst.start()
        check_json_error(inst.infer("fraud-x", infer_body(x)), 503, "after restart")
    finally:
        stop_and_check(inst)


def test_trust_api_refuses_bad_input(server):
    pem = oms.public_pem(oms.generate_key())
    cases = [
        ("bad_json", b"{", 400),
        ("no_key", json.dumps({"models": "*"}).encode(), 400),
        ("typo", json.dumps({"public_key": pem, "model": "x*"}).encode(), 400),
        ("not_a_key", json.dumps({"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}).encode(),
         400),
        ("bad_glob", json.dumps({"public_key": pem, "models": "a/b"}).encode(), 400),
        ("nested", b"[" * 60000, 400),  # deep nesting, under the 64 KiB body limit
    ]
    for name, body, status in cases:
        r = server.put(f"/v1/trust/{name}", data=body, headers={"Content-Type": "application/json"})
        check_json_error(r, status, f"trust add {name}")
    rsa = ("-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
           "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END PUBLIC KEY-----\n")
    check_json_error(server.put("/v1/trust/rsa", json={"public_key": rsa}), 400, "an RSA key")
    check_json_error(server.put("/v1/trust/x", json={"public_key": pem}, token=False), 401, "no token")
    check_json_error(server.put("/v1/trust/x", json={"public_key": pem}, admin=False), 404, "on the data plane")
    listed = server.get("/v1/trust", admin=True).json()["keys"]
    assert not any(k["name"] in {c[0] for c in cases} | {"rsa", "x"} for k in listed), listed


def test_stored_models_are_reverified_at_start(tmp_path):
    """An unsigned version (pushed with the policy off) is not served once it is back on."""
    inst = start_installation(tmp_path, models=False, config={("registry", "require_signature"): False})
    try:
        r = inst.push("dev", "1", MLP_ONNX, "onnx", sign=False)
        assert r.status_code == 201 and r.json()["signature"] is None, r.text
        assert "require_signature is off" in inst.log_text()
        assert inst.stop() == 0
        inst.set_config("registry", "require_signature", True)
        inst.start()
        x, _ = reference_case("mlp_onnx")
        check_json_error(inst.infer("dev", infer_body(x)), 503, "an unsigned version under require_signature")
        inst.wait_audit(lambda e: e.get("action") == "model.load_failed" and "unsigned" in e.get("reason", ""))
    finally:
        stop_and_check(inst)
