// Sigstore bundles (v0.3 JSON) carrying a DSSE envelope whose payload is an
// in-toto Statement v1 with predicateType https://model_signing/signature/v1.0:
// the OpenSSF Model Signing (OMS) v1.0 format, key-based signing method.
//
//   bundle.mediaType   application/vnd.dev.sigstore.bundle.v0.3+json
//   bundle.verificationMaterial.publicKey.hint   hex SHA-256 of the public key PEM
//                                     (what OMS writes and checks; unsigned)
//   bundle.verificationMaterial.tlogEntries      [] (no transparency log)
//   bundle.dsseEnvelope.payload       base64(statement JSON)
//   bundle.dsseEnvelope.payloadType   application/vnd.in-toto+json
//   bundle.dsseEnvelope.signatures[0].sig   base64(signature over the DSSE PAE)
//   bundle.dsseEnvelope.signatures[0].keyid ""
//
// Verification requires exactly one signature, accepts keyid absent, "" or
// null, a hint equal to the OMS hint or to the key's DER fingerprint (or none,
// or the pre-1.1 publicKey.rawBytes form), and ignores tlogEntries.
//
// Bundles are untrusted input: the parser bounds size and nesting, accepts
// compact or pretty JSON from any OMS implementation, and checks the signature
// before it interprets the statement.
//
// Thread-safety: stateless; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"
#include "aegis/signing/manifest.h"

namespace aegis::signing {

inline constexpr size_t kMaxBundleBytes = size_t{16} * 1024 * 1024;
inline constexpr std::string_view kBundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kPredicateType = "https://model_signing/signature/v1.0";

// DSSE pre-authentication encoding:
// "DSSEv1" SP len(type) SP type SP len(body) SP body.
std::string PreAuthEncoding(std::string_view payload_type, std::string_view payload);

// The in-toto statement for a manifest (compact JSON).
std::string StatementJson(const Manifest& manifest);

// Signs the manifest and returns the bundle JSON (pretty-printed, trailing newline).
StatusOr<std::string> SignManifest(const Manifest& manifest, const crypto::PrivateKey& key);

// Verifies `bundle_json` with `key` and returns the signed manifest. Errors, each
// one line: InvalidArgument for a malformed bundle/statement ("not a sigstore
// bundle v0.3", "payloadType must be application/vnd.in-toto+json", "unsupported
// serialization method 'x'", "resource name '../x' is not a safe relative path",
// "resources are not sorted", "subject digest does not match the resources"…);
// PermissionDenied when the signature does not verify with this key.
StatusOr<Manifest> VerifyBundle(std::string_view bundle_json, const crypto::PublicKey& key);

}  // namespace aegis::signing
