// Internal to src/signing: the sigstore bundle and DSSE envelope layers, before
// any signature check. Exposed for tests and the fuzzer; everything else goes
// through VerifyBundle, which checks the signature before ParseStatement.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"

namespace aegis::signing::internal {

struct Envelope {
  std::string payload_type;
  std::string payload;  // decoded bytes: the statement JSON
  std::vector<uint8_t> signature;
  std::string key_hint;  // verificationMaterial.publicKey.hint; may be empty
};

// Structure only: media type, key-based verification material, exactly one
// DSSE signature, base64 fields decoded. Refuses anything else in one line.
StatusOr<Envelope> ParseEnvelope(std::string_view bundle_json);

// The publicKey.hint OMS writes and checks: hex SHA-256 of the key's PEM text
// (not of its DER, which is crypto::PublicKey::fingerprint()).
std::string OmsKeyHint(const crypto::PublicKey& key);

}  // namespace aegis::signing::internal
