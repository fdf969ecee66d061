"""An independent OpenSSF Model Signing (OMS v1.0) implementation for the tests.

Written from the format description only (sigstore bundle v0.3 → DSSE envelope →
in-toto Statement v1, predicateType https://model_signing/signature/v1.0), with
Debian's python3-cryptography and hashlib, so that Aegis's C++ signer and
verifier are checked against a second implementation rather than against
themselves.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def generate_key(kind: str = "ecdsa-p256"):
    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(private_key) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def _sign(private_key, message: bytes) -> bytes:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(message)
    digest = hashes.SHA384() if private_key.curve.name == "secp384r1" else hashes.SHA256()
    return private_key.sign(message, ec.ECDSA(digest))


def statement(model_name: str, resources: list[dict], serialization_: dict) -> dict:
    subject = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": model_name, "digest": {"sha256": subject}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"serialization": serialization_, "resources": resources},
    }


def bundle_for_statement(stmt: dict, private_key, payload_type: str = PAYLOAD_TYPE, indent=None) -> bytes:
    payload = json.dumps(stmt, separators=(",", ":")).encode()
    sig = _sign(private_key, pae(payload_type, payload))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": payload_type,
            "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
        },
    }
    return json.dumps(bundle, indent=indent).encode()


def sign_bytes(data: bytes, private_key, name: str = "model.bin", indent=None) -> bytes:
    """A bundle for a single-file model (serialization "files")."""
    resources = [{"algorithm": "sha256", "digest": hashlib.sha256(data).hexdigest(), "name": name}]
    ser = {"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": []}
    return bundle_for_statement(statement(name, resources, ser), private_key, indent=indent)


def decode_statement(bundle: bytes) -> dict:
    env = json.loads(bundle)["dsseEnvelope"]
    return json.loads(base64.b64decode(env["payload"]))
