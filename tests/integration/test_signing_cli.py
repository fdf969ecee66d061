"""`aegis model sign|verify|keygen`: OMS v1.0 bundles, checked from the outside.

Besides round trips and refusals, two independent checks with Debian's
python3-cryptography and hashlib: a bundle Aegis signs is verified here (DSSE
PAE signature, subject digest, every file digest), and a bundle built here
(pretty JSON, shards, P-256, model_signing's resource order) is verified by
Aegis. A genuine model_signing 1.1.0 bundle is verified too. No server needed.
"""

import base64
import hashlib
import json
import os
import pathlib
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from aegis_testlib import AEGIS_BIN, aegis, assert_one_line_error, describe

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
FAILED = "aegis: verification failed: "


@pytest.fixture(scope="module", autouse=True)
def _prerequisites():
    """Overrides the suite-wide check: these tests need the binary, not the example models."""
    if not (os.path.isfile(AEGIS_BIN) and os.access(AEGIS_BIN, os.X_OK)):
        pytest.fail(f"aegis binary not found or not executable: {AEGIS_BIN}", pytrace=False)


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def ok(*args):
    proc = aegis(*args)
    assert proc.returncode == 0, describe(proc)
    return proc


@pytest.fixture
def keys(tmp_path):
    """An ECDSA P-256 key pair made by `aegis model keygen`."""
    priv, pub = tmp_path / "signing.pem", tmp_path / "signing.pub"
    ok("model", "keygen", "--private-key", priv, "--public-key", pub)
    return priv, pub


@pytest.fixture
def model(tmp_path):
    root = tmp_path / "fraud-detector"
    (root / "tokenizer").mkdir(parents=True)
    (root / "model.onnx").write_bytes(os.urandom(5000))
    (root / "tokenizer.json").write_text('{"vocab": {}}')
    (root / "tokenizer" / "merges.txt").write_text("a b\n")
    (root / "config.json").write_text("{}")
    return root


def sign(model, keys, out, *extra):
    return aegis("model", "sign", model, "--key", keys[0], "--output", out, *extra)


def verify(model, bundle, pub, *extra):
    return aegis("model", "verify", model, "--bundle", bundle, "--public-key", pub, *extra)


def read_bundle(path):
    bundle = json.loads(pathlib.Path(path).read_text())
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"])
    return bundle, payload, json.loads(payload)


# ------------------------------------------------------------------ keygen


@pytest.mark.parametrize("cmd", [["sign"], ["verify"], ["keygen"]])
def test_help(cmd):
    proc = aegis("model", *cmd, "--help")
    assert proc.returncode == 0 and proc.stdout.strip(), describe(proc)


@pytest.mark.parametrize("kind,curve", [("ecdsa-p256", "secp256r1"), ("ecdsa-p384", "secp384r1"), ("ed25519", None)])
def test_keygen_types_and_modes(tmp_path, kind, curve):
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    proc = ok("model", "keygen", "--type", kind, "--private-key", priv, "--public-key", pub, "--json")
    info = json.loads(proc.stdout)
    assert info["type"] == kind and len(info["fingerprint"]) == 64
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(priv.read_bytes(), None)
    public = serialization.load_pem_public_key(pub.read_bytes())
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert info["fingerprint"] == hashlib.sha256(der).hexdigest()
    if curve:
        assert key.curve.name == curve
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)


def test_keygen_never_overwrites(keys):
    before = keys[0].read_bytes()
    proc = aegis("model", "keygen", "--private-key", keys[0], "--public-key", keys[0].with_suffix(".new"))
    assert_one_line_error(proc, "aegis: ")
    assert keys[0].read_bytes() == before
    assert not keys[0].with_suffix(".new").exists()
    assert_one_line_error(aegis("model", "keygen", "--type", "rsa", "--private-key", "a", "--public-key", "b"))


# ------------------------------------------------------------------ round trips


def test_sign_verify_folder(model, keys, tmp_path):
    bundle = tmp_path / "model.sig"
    proc = ok("model", "sign", model, "--key", keys[0], "--output", bundle, "--json")
    summary = json.loads(proc.stdout)
    assert summary["files"] == 4 and summary["method"] == "files"
    proc = ok("model", "verify", model, "--bundle", bundle, "--public-key", keys[1])
    assert proc.stdout.strip() == f"verified: fraud-detector (4 files, subject sha256 {summary['subject_sha256']})"
    assert proc.stderr == ""


def test_sign_verify_shards_and_single_file(model, keys, tmp_path):
    ok("model", "sign", model, "--key", keys[0], "--output", tmp_path / "s.sig", "--shard-size", "1024")
    _, _, statement = read_bundle(tmp_path / "s.sig")
    names = [r["name"] for r in statement["predicate"]["resources"]]
    assert "model.onnx:4096:5000" in names and statement["predicate"]["serialization"]["shard_size"] == 1024
    ok("model", "verify", model, "--bundle", tmp_path / "s.sig", "--public-key", keys[1])

    single = model / "model.onnx"
    ok("model", "sign", single, "--key", keys[0], "--output", tmp_path / "one.sig")
    _, _, statement = read_bundle(tmp_path / "one.sig")
    assert [r["name"] for r in statement["predicate"]["resources"]] == ["model.onnx"]
    proc = ok("model", "verify", single, "--bundle", tmp_path / "one.sig", "--public-key", keys[1], "--json")
    assert json.loads(proc.stdout)["files"] == 1


def test_output_is_not_overwritten_without_force(model, keys, tmp_path):
    out = tmp_path / "m.sig"
    out.write_text("keep me")
    assert_one_line_error(sign(model, keys, out), "aegis: output ")
    assert out.read_text() == "keep me"
    assert sign(model, keys, out, "--force").returncode == 0
    ok("model", "verify", model, "--bundle", out, "--public-key", keys[1])


def test_bundle_inside_the_model_and_git_are_left_out(model, keys):
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref: main")
    inside = model / "model.sig"
    assert sign(model, keys, inside).returncode == 0
    _, _, statement = read_bundle(inside)
    names = {r["name"] for r in statement["predicate"]["resources"]}
    assert "model.sig" not in names and ".git/HEAD" not in names
    assert {"model.sig", ".git"} <= set(statement["predicate"]["serialization"]["ignore_paths"])
    ok("model", "verify", model, "--bundle", inside, "--public-key", keys[1])


# ------------------------------------------------------------------ independent checks


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ecdsa-p384", "ed25519"])
def test_python_verifies_aegis_bundle(model, tmp_path, kind):
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    ok("model", "keygen", "--type", kind, "--private-key", priv, "--public-key", pub)
    out = tmp_path / "m.sig"
    ok("model", "sign", model, "--key", priv, "--output", out, "--shard-size", "2048")
    bundle, payload, statement = read_bundle(out)
    assert bundle["mediaType"] == MEDIA_TYPE
    assert bundle["verificationMaterial"] == {"publicKey": {"hint": hashlib.sha256(pub.read_bytes()).hexdigest()},
                                              "tlogEntries": []}
    envelope = bundle["dsseEnvelope"]
    assert envelope["payloadType"] == PAYLOAD_TYPE and len(envelope["signatures"]) == 1
    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    key = serialization.load_pem_public_key(pub.read_bytes())
    # model_signing computes the hint from its own PEM encoding of the key: it must match.
    assert key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) == pub.read_bytes()
    if kind == "ed25519":
        key.verify(signature, pae(PAYLOAD_TYPE, payload))
    else:
        digest = hashes.SHA384() if kind == "ecdsa-p384" else hashes.SHA256()
        key.verify(signature, pae(PAYLOAD_TYPE, payload), ec.ECDSA(digest))

    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    resources = statement["predicate"]["resources"]
    assert [r["name"] for r in resources] == sorted(r["name"] for r in resources)
    subject = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    assert statement["subject"] == [{"name": "fraud-detector", "digest": {"sha256": subject}}]
    for r in resources:
        path, start, end = r["name"].rsplit(":", 2)
        data = (model / path).read_bytes()[int(start):int(end)]
        assert r["digest"] == hashlib.sha256(data).hexdigest() and r["algorithm"] == "sha256-sharded-2048"


def python_bundle(model: pathlib.Path, key, resources_order="python", shard_size=1000, names=None, method="shards"):
    """A bundle built the way model_signing writes one, pretty-printed, signed here."""
    resources = []
    for f in sorted(p for p in model.rglob("*") if p.is_file()):
        rel = f.relative_to(model).as_posix()
        data = f.read_bytes()
        for start in range(0, len(data), shard_size):
            end = min(start + shard_size, len(data))
            resources.append({"algorithm": f"sha256-sharded-{shard_size}", "digest": hashlib.sha256(data[start:end]).hexdigest(),
                              "name": f"{rel}:{start}:{end}", "_key": (pathlib.PurePosixPath(rel), start, end)})
    if resources_order == "python":  # path components first, offsets as numbers
        resources.sort(key=lambda r: r["_key"])
    for r in resources:
        del r["_key"]
    if names:
        for r, n in zip(resources, names):
            r["name"] = n
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": model.name, "digest": {"sha256": root}}],
                 "predicateType": "https://model_signing/signature/v1.0",
                 "predicate": {"resources": resources,
                               "serialization": {"allow_symlinks": False, "method": method, "hash_type": "sha256",
                                                 "shard_size": float(shard_size), "ignore_paths": [".git"]}}}
    payload = json.dumps(statement, indent=2).encode()
    sig = key.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    bundle = {"mediaType": MEDIA_TYPE,
              "verificationMaterial": {"publicKey": {"hint": hashlib.sha256(pem).hexdigest()}, "tlogEntries": []},
              "dsseEnvelope": {"payload": base64.b64encode(payload).decode(), "payloadType": PAYLOAD_TYPE,
                               "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]}}
    return json.dumps(bundle, indent=2), pem


def test_aegis_verifies_python_bundle(model, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    text, pem = python_bundle(model, key)
    (tmp_path / "py.sig").write_text(text)
    (tmp_path / "py.pub").write_bytes(pem)
    proc = ok("model", "verify", model, "--bundle", tmp_path / "py.sig", "--public-key", tmp_path / "py.pub")
    assert proc.stdout.startswith("verified: fraud-detector (4 files, subject sha256 ")
    (model / "config.json").write_text('{"evil": true}')
    assert_one_line_error(verify(model, tmp_path / "py.sig", tmp_path / "py.pub"), FAILED + "file 'config.json' changed")


OMS_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEsu6rZGBTjxtvRWPMixT+3HyndV0J0Ybt
aHZUcO4DEK+OJHO/4e32bb/fbJKSpRgcBsIpKLcVijUomyFOERbd7u+BTPSUjGZD
Qq6J7lTvp/EAXQGOKxW9RP0MGX3qAkvi
-----END PUBLIC KEY-----
"""


def test_aegis_verifies_genuine_model_signing_bundle(tmp_path):
    # sigstore/model-transparency scripts/tests/v1.1.0-elliptic-key (Apache-2.0): the
    # statement that model_signing 1.1.0 signed with this P-384 key.
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": "v1.1.0-elliptic-key",
                              "digest": {"sha256": "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"}}],
                 "predicateType": "https://model_signing/signature/v1.0",
                 "predicate": {"resources": [
                     {"algorithm": "sha256", "name": "signme-1",
                      "digest": "bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc"},
                     {"algorithm": "sha256", "name": "signme-2",
                      "digest": "32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028"}],
                     "serialization": {"allow_symlinks": False, "method": "files", "hash_type": "sha256",
                                       "ignore_paths": [".git", "model.sig", "ignore-me", ".gitattributes",
                                                        ".gitignore", ".github"]}}}
    payload = json.dumps(statement, indent=2).encode()
    sig = ("MGUCMQCVqSw64cBnPHqbyadq+OIgwQSg7WW8Mztp3dJ++atQsxzbtwafJJ164u7WEXmx5hECMBSiShuN7OTLec6wLXpHUjFI"
           "QA/hhiBCjSzM9Q2cIUZpDmv+tWs1AkNxstJDbNl0lQ==")
    bundle = {"mediaType": MEDIA_TYPE,
              "verificationMaterial": {"publicKey": {"hint": hashlib.sha256(OMS_PUBLIC_KEY.encode()).hexdigest()},
                                       "tlogEntries": []},
              "dsseEnvelope": {"payload": base64.b64encode(payload).decode(), "payloadType": PAYLOAD_TYPE,
                               "signatures": [{"sig": sig, "keyid": ""}]}}
    model = tmp_path / "v1.1.0-elliptic-key"
    model.mkdir()
    (model / "signme-1").write_text("signme-1\n")
    (model / "signme-2").write_text("signme-2")
    (model / "ignore-me").write_text("not signed")
    (model / "model.sig").write_text(json.dumps(bundle, separators=(",", ":")))
    (tmp_path / "oms.pub").write_text(OMS_PUBLIC_KEY)
    proc = ok("model", "verify", model, "--bundle", model / "model.sig", "--public-key", tmp_path / "oms.pub")
    assert proc.stdout.startswith("verified: v1.1.0-elliptic-key (2 files, subject sha256 92745110")


# ------------------------------------------------------------------ refusals, one line each


@pytest.fixture
def signed(model, keys, tmp_path):
    out = tmp_path / "m.sig"
    assert sign(model, keys, out).returncode == 0
    return out


def rewrite(path, edit):
    bundle = json.loads(path.read_text())
    edit(bundle)
    path.write_text(json.dumps(bundle))


def test_refuses_bad_signature(model, keys, signed):
    def flip(b):
        sig = bytearray(base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"]))
        sig[-1] ^= 1
        b["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    rewrite(signed, flip)
    assert_one_line_error(verify(model, signed, keys[1]), FAILED + "signature does not verify with this key")


def test_refuses_wrong_key(model, signed, tmp_path):
    ok("model", "keygen", "--private-key", tmp_path / "o.pem", "--public-key", tmp_path / "o.pub")
    assert_one_line_error(verify(model, signed, tmp_path / "o.pub"), FAILED + "the bundle was signed by a different key")


def test_refuses_changed_missing_and_extra_files(model, keys, signed):
    (model / "tokenizer" / "merges.txt").write_text("a c\n")
    assert_one_line_error(verify(model, signed, keys[1]), FAILED + "file 'tokenizer/merges.txt' changed")
    (model / "tokenizer" / "merges.txt").unlink()
    assert_one_line_error(verify(model, signed, keys[1]), FAILED + "file 'tokenizer/merges.txt' is missing")
    (model / "tokenizer" / "merges.txt").write_text("a b\n")
    (model / "backdoor.py").write_text("import os")
    assert_one_line_error(verify(model, signed, keys[1]), FAILED + "file 'backdoor.py' is not in the manifest")


def test_refuses_symlinks(model, keys, signed, tmp_path):
    (model / "link.onnx").symlink_to(model / "model.onnx")
    assert_one_line_error(verify(model, signed, keys[1]), FAILED + "symlink 'link.onnx' is not allowed")
    assert_one_line_error(sign(model, keys, tmp_path / "new.sig"), "aegis: signing failed: symlink 'link.onnx'")
    assert sign(model, keys, tmp_path / "new.sig", "--allow-symlinks").returncode == 0
    (model / "link.onnx").unlink()
    (model / "leak").symlink_to("/etc/hostname")
    assert_one_line_error(sign(model, keys, tmp_path / "leak.sig", "--allow-symlinks"),
                          "aegis: signing failed: symlink 'leak' points outside the model")


@pytest.mark.parametrize("name,reason", [
    ("../outside:0:1000", "resource name '../outside:0:1000' is not a safe relative path"),
    ("/etc/passwd:0:1000", "resource name '/etc/passwd:0:1000' is not a safe relative path"),
])
def test_refuses_unsafe_names(model, tmp_path, name, reason):
    key = ec.generate_private_key(ec.SECP256R1())
    text, pem = python_bundle(model, key, names=[name])
    (tmp_path / "b.sig").write_text(text)
    (tmp_path / "b.pub").write_bytes(pem)
    assert_one_line_error(verify(model, tmp_path / "b.sig", tmp_path / "b.pub"), FAILED + reason)


def test_refuses_unsupported_method_and_payload_type(model, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    text, pem = python_bundle(model, key, method="tensors")
    (tmp_path / "b.sig").write_text(text)
    (tmp_path / "b.pub").write_bytes(pem)
    assert_one_line_error(verify(model, tmp_path / "b.sig", tmp_path / "b.pub"),
                          FAILED + "unsupported serialization method 'tensors'")
    rewrite(tmp_path / "b.sig", lambda b: b["dsseEnvelope"].update(payloadType="application/json"))
    assert_one_line_error(verify(model, tmp_path / "b.sig", tmp_path / "b.pub"),
                          FAILED + "payloadType must be application/vnd.in-toto+json")


def test_refuses_unreadable_inputs(model, keys, tmp_path):
    assert_one_line_error(verify(model, tmp_path / "none.sig", keys[1]), FAILED + "cannot read bundle")
    (tmp_path / "junk.sig").write_text("{not json")
    assert_one_line_error(verify(model, tmp_path / "junk.sig", keys[1]), FAILED + "bundle is not valid JSON")
    assert_one_line_error(sign(model, (tmp_path / "none.pem", None), tmp_path / "x.sig"), "aegis: cannot read private key")
    assert_one_line_error(sign(model, (keys[1], None), tmp_path / "x.sig"), "aegis: cannot load private key")
