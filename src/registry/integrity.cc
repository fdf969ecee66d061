#include "integrity.h"

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/signature.h"
#include "aegis/scan/scanner.h"
#include "aegis/signing/bundle.h"

namespace aegis::registry::internal {
namespace {

bool FormatMatches(runtime::ModelFormat declared, scan::Format found) {
  switch (declared) {
    case runtime::ModelFormat::kOnnx:
      return found == scan::Format::kOnnx;
    case runtime::ModelFormat::kTorchScript:
      return found == scan::Format::kTorchScript;
    case runtime::ModelFormat::kXgboost:
      return found == scan::Format::kXgboostJson || found == scan::Format::kXgboostUbj;
  }
  return false;
}

}  // namespace

Status IntegrityFailure(const std::string& message) {
  // The prefix is for people (clients and logs read it); callers test the detail.
  return Status(StatusCode::kUnprocessable, "integrity check failed: " + message, ErrorDetail::kIntegrityFailure);
}

StatusOr<VerifiedSignature> VerifyForModel(std::string_view bundle, const std::string& model,
                                           const std::vector<store::TrustedKeyRecord>& trusted) {
  if (bundle.size() > signing::kMaxBundleBytes) return IntegrityFailure("signature bundle too large");
  bool any_candidate = false;
  Status malformed;
  for (const auto& key : trusted) {
    if (!ModelGlobMatches(key.models, model)) continue;
    any_candidate = true;
    auto public_key = crypto::PublicKey::FromPem(key.public_key_pem);
    if (!public_key.ok()) continue;  // validated at `trust add`; a doctored row is skipped
    auto manifest = signing::VerifyBundle(bundle, *public_key);
    if (manifest.ok()) {
      store::SignatureRecord record{key.name, key.fingerprint, crypto::HexEncode(manifest->SubjectDigest()),
                                    std::string(bundle)};
      return VerifiedSignature{std::move(record), std::move(*manifest)};
    }
    // The signature is checked before the statement is read, so anything but
    // "does not verify" is a property of the bundle, the same for every key.
    if (manifest.status().code() != StatusCode::kPermissionDenied && malformed.ok()) malformed = manifest.status();
  }
  if (!any_candidate) return IntegrityFailure("no key in the trust store may sign model '" + model + "'");
  if (!malformed.ok()) return IntegrityFailure("signature bundle: " + malformed.message());
  return IntegrityFailure("the signature bundle is not signed by a key trusted for model '" + model + "'");
}

StatusOr<signing::Manifest> ReverifyStored(const store::SignatureRecord& signature, const std::string& model,
                                           const std::vector<store::TrustedKeyRecord>& trusted) {
  for (const auto& key : trusted) {
    if (key.fingerprint != signature.fingerprint) continue;
    if (!ModelGlobMatches(key.models, model)) break;
    AEGIS_ASSIGN_OR_RETURN(auto public_key, crypto::PublicKey::FromPem(key.public_key_pem));
    auto manifest = signing::VerifyBundle(signature.bundle, public_key);
    if (!manifest.ok()) return IntegrityFailure("stored signature: " + manifest.status().message());
    if (crypto::HexEncode(manifest->SubjectDigest()) != signature.subject_digest) {
      return IntegrityFailure("stored subject digest does not match the signed bundle");
    }
    return manifest;
  }
  return IntegrityFailure("signer key '" + signature.signer + "' is no longer trusted for model '" + model + "'");
}

Status ScanArtifact(runtime::ModelFormat declared, std::span<const uint8_t> bytes, size_t& findings) {
  findings = 0;
  auto report = scan::ScanBytes(bytes);
  if (!report.ok()) return IntegrityFailure("the scanner could not read the model: " + report.status().message());
  findings = report->findings.size();
  if (!report->clean()) {
    const scan::Finding& first = report->findings.front();
    std::string message = "the scanner found " + std::to_string(report->findings.size()) + " problem(s) in this " +
                          std::string(scan::FormatName(report->format)) +
                          " file; first: " + std::string(scan::SeverityName(first.severity)) + " at " + first.location +
                          ": " + first.reason;
    if (!first.callable.empty() && first.reason.find(first.callable) == std::string::npos) {
      message += " (" + first.callable + ")";
    }
    return IntegrityFailure(message);
  }
  if (!FormatMatches(declared, report->format)) {
    return IntegrityFailure("the content is " + std::string(scan::FormatName(report->format)) + ", not " +
                            std::string(runtime::ModelFormatName(declared)));
  }
  return Status::Ok();
}

}  // namespace aegis::registry::internal
