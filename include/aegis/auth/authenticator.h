// Authenticator: finds the credential a request carries and asks the one
// authenticator that understands it.
//
//   Authorization: Bearer aegis_<id>_<secret>          → API token
//   Authorization: Bearer aegis_session_<id>_<secret>  → a person's login session
//   Authorization: Bearer <header>.<payload>.<sig>     → JWT (when configured)
//   no Authorization, client certificate verified by TLS → [[auth.mtls]] mapping
//
// A request with a bearer credential is judged by it alone: a bad bearer is
// refused even when a good certificate came with it, so a stolen certificate
// cannot mask a forged token or the other way round.
//
// Thread-safety: safe for concurrent use (each part is).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/auth/jwt.h"
#include "aegis/auth/principal.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/user_directory.h"
#include "aegis/common/clock.h"
#include "aegis/common/status.h"

namespace aegis::auth {

// What TLS verified about a client certificate.
struct PresentedCertificate {
  std::string subject;            // RFC 2253
  std::vector<std::string> sans;  // "DNS:…", "URI:…", "email:…", "IP:…"
  std::string fingerprint;        // hex SHA-256 of the DER
};

// One [[auth.mtls]] entry: certificates whose subject equals `subject`, or
// whose SANs include `san` (exactly one of the two is set), get `grant`.
struct CertificateMapping {
  std::string subject;
  std::string san;
  policy::Grant grant;
};

class Authenticator {
 public:
  // `tokens` and `users` are required; `jwt` may be null (JWTs not accepted).
  // All must outlive the authenticator.
  Authenticator(TokenAuthenticator* tokens, UserDirectory* users, const JwtVerifier* jwt,
                std::vector<CertificateMapping> certificates, const Clock& clock);

  // Unauthenticated with a reason safe to show when there is no credential or
  // it does not prove anyone.
  StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization,
                                   const PresentedCertificate* certificate) const;

  // The kind of credential the request presents, routed exactly as Authenticate
  // routes it (so a refused attempt can be counted by method): a session or
  // JWT-shaped bearer, any other Authorization value (API tokens and
  // unsupported or malformed bearers), or else a client certificate; nullopt
  // when there is no credential at all.
  static std::optional<Method> PresentedMethod(std::optional<std::string_view> authorization,
                                               const PresentedCertificate* certificate);

  // When a refusal by Authenticate usually means that the server and the
  // identity provider disagree, not that the caller is an attacker (a JWT
  // signed by a key the JWKS lacks, for another issuer or audience, or from a
  // clock ahead of ours; a certificate from the trusted CA that no
  // [[auth.mtls]] entry maps): what to check, for the server log. nullopt for
  // every other refusal.
  static std::optional<std::string_view> ConfigurationHint(const Status& refusal);

 private:
  StatusOr<Principal> FromCertificate(const PresentedCertificate& certificate) const;

  TokenAuthenticator* tokens_;
  UserDirectory* users_;
  const JwtVerifier* jwt_;
  std::vector<CertificateMapping> certificates_;
  const Clock& clock_;
};

}  // namespace aegis::auth
