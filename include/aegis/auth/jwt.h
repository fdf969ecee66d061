// JwtVerifier: bearer JWTs (RFC 7519, JWS compact form) from an external OIDC
// provider, checked against a JWKS (RFC 7517) the operator configures.
//
// - Algorithms: RS256 (RSA ≥ 2048 bits), ES256 (P-256), EdDSA (Ed25519). The
//   algorithm is fixed by the key the header's `kid` names: a token whose `alg`
//   is not that key's is refused, as are `none`, every HMAC algorithm, a
//   missing or unknown kid, `crit` headers and nested JWTs. So are headers
//   that carry or point to a key (`jwk`, `jku`, `x5u`, `x5c`): only the
//   configured JWKS is trusted, and they have no other use here.
// - Claims: `iss` must equal the configured issuer and `aud` (string or array)
//   contain the audience; `exp` is required, `nbf` and `iat` honoured, each
//   with `leeway`. `sub` is required.
// - Roles: the claim named roles_claim (a string or an array of strings); each
//   value that is a built-in role name, or a key of role_map, becomes a grant;
//   others are ignored. The optional models_claim (a glob or array of globs)
//   scopes every scopable role; absent means "*", an empty array no model.
//   admin and auditor are never scoped: they ignore it and apply to "*". A
//   token whose roles map to nothing still authenticates (the policy then
//   answers 403).
// - Bounds: tokens over 16 KiB, JSON nested deeper than 8, duplicate member
//   names, non-canonical base64url are refused.
//
// Thread-safety: Verify is safe for concurrent use; ReplaceKeys may run
// concurrently with it (keys are swapped atomically).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aegis/auth/principal.h"
#include "aegis/common/status.h"

namespace aegis::auth {

struct JwtConfig {
  std::string issuer;
  std::string audience;
  std::string roles_claim = "roles";
  std::optional<std::string> models_claim;
  std::chrono::seconds leeway{60};
  std::map<std::string, std::string> role_map;  // IdP role/group → Aegis role name
};

class JwtVerifier {
 public:
  // InvalidArgument when the config or the JWKS is unusable (bad JSON, no usable
  // key, a key of an unsupported type, RSA under 2048 bits, duplicate kid, a key
  // without kid, a private key member). role_map values must be role names.
  // Encryption keys ("use": "enc") are skipped, never used.
  static StatusOr<std::unique_ptr<JwtVerifier>> Create(JwtConfig config, std::string_view jwks_json);
  ~JwtVerifier();

  // Whether `token` has the shape of a JWT (three base64url parts), so callers can route it.
  static bool LooksLikeJwt(std::string_view token);

  // A verified principal: name "jwt:<sub>", method kJwt, credential_id the kid,
  // subject.human false. Unauthenticated with a reason safe to show otherwise.
  StatusOr<Principal> Verify(std::string_view token, std::chrono::system_clock::time_point now) const;

  // Replaces the key set (a refreshed jwks_url). On error the old keys stay.
  Status ReplaceKeys(std::string_view jwks_json);

 private:
  struct Impl;
  explicit JwtVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::auth
