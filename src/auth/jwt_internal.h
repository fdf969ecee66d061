// Internal to the JWT verifier (src/auth/jwt*.cc, jwks.cc): the key set, the
// three steps Verify chains (signature, claims) and the reasons it gives.
//
// Thread-safety: a KeySet is immutable once built and shared read-only by
// concurrent Verify calls (OpenSSL 3 allows concurrent use of an EVP_PKEY for
// verification); the functions are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aegis/auth/jwt.h"
#include "aegis/auth/principal.h"
#include "aegis/common/status.h"
#include "crypto/internal/openssl_ptr.h"
#include "jwt_reasons.h"

namespace aegis::auth::internal {

// The only algorithms accepted; each is tied to one key type (RSA, EC P-256,
// Ed25519), so the key a kid names decides the algorithm, never the token.
enum class JwsAlgorithm { kRs256, kEs256, kEdDsa };

// "RS256" | "ES256" | "EdDSA": the JOSE names (RFC 7518, RFC 8037).
std::string_view AlgorithmName(JwsAlgorithm algorithm);
// The algorithm for an exact JOSE name; nullopt for everything else ("none",
// HS256, PS256, ES384, "rs256"...).
std::optional<JwsAlgorithm> ParseAlgorithm(std::string_view name);

struct VerificationKey {
  JwsAlgorithm algorithm;
  crypto::internal::KeyPtr key;
};
// kid → key.
using KeySet = std::map<std::string, VerificationKey, std::less<>>;

inline constexpr size_t kMaxJwksBytes = size_t{1024} * 1024;
inline constexpr size_t kMaxJwksKeys = 64;
inline constexpr size_t kMaxTokenBytes = size_t{16} * 1024;
// simdjson counts the document itself as a level: 9 admits the 8 levels of
// nesting jwt.h promises; real headers and payloads use 2 or 3.
inline constexpr size_t kMaxTokenJsonDepth = 9;

// The key set of a JWKS (RFC 7517), or InvalidArgument naming the offending
// key. Encryption keys ("use": "enc") are skipped; every other problem refuses
// the whole set (see jwks.cc).
StatusOr<std::shared_ptr<const KeySet>> ParseJwks(std::string_view jwks_json);

// Ok when `signature` (decoded from the token's third part) signs
// `signing_input` with `key` under the key's algorithm; Unauthenticated
// ("invalid signature") otherwise. ES256 signatures must be the JWS form:
// raw r||s, 64 bytes.
Status VerifySignature(const VerificationKey& key, std::string_view signing_input, std::span<const uint8_t> signature);

// The principal a signature-checked payload describes, after checking its
// issuer, audience, validity window and subject (see jwt_claims.cc).
StatusOr<Principal> PrincipalFromClaims(const JwtConfig& config, std::string_view payload_json, std::string_view kid,
                                        std::chrono::system_clock::time_point now);

// Whether `text` holds a C0 or C1 control character, DEL, or a Unicode line or
// paragraph separator: none of them belongs in a name the audit log records.
// `text` is valid UTF-8 (simdjson checks it).
bool HasControlCharacters(std::string_view text);

// Reasons Verify gives: jwt_reasons.h.

inline Status Refuse(std::string_view why) { return Status::Unauthenticated(std::string(why)); }

}  // namespace aegis::auth::internal
