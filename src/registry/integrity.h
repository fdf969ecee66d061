// The integrity gate between an uploaded or stored artifact and the engines
// (internal to src/registry): signature verification against the trust store,
// and the model scanner's verdict.
//
// Thread-safety: stateless functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/registry/registry.h"
#include "aegis/runtime/backend.h"
#include "aegis/signing/manifest.h"
#include "aegis/store/metadata_store.h"

namespace aegis::registry::internal {

// Unprocessable, ErrorDetail::kIntegrityFailure, and a message that starts
// "integrity check failed: ".
Status IntegrityFailure(const std::string& message);

struct VerifiedSignature {
  store::SignatureRecord record;
  signing::Manifest manifest;
};

// Finds the key trusted for `model` that signed `bundle`. Each failure is an
// IntegrityFailure naming why: no key trusted for the model, a malformed bundle,
// or a signature no trusted key verifies.
StatusOr<VerifiedSignature> VerifyForModel(std::string_view bundle, const std::string& model,
                                           const std::vector<store::TrustedKeyRecord>& trusted);

// At load: the stored bundle must still verify with the key that signed it,
// and that key must still be trusted for the model. Returns the manifest.
StatusOr<signing::Manifest> ReverifyStored(const store::SignatureRecord& signature, const std::string& model,
                                           const std::vector<store::TrustedKeyRecord>& trusted);

// Runs the scanner over an artifact about to reach the engine for `declared`:
// Ok only for a clean report whose detected format is the declared one.
// `findings` receives the number of findings the scanner reported.
Status ScanArtifact(runtime::ModelFormat declared, std::span<const uint8_t> bytes, size_t& findings);

}  // namespace aegis::registry::internal
