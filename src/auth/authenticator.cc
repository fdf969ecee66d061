#include "aegis/auth/authenticator.h"

#include <algorithm>
#include <utility>

#include "jwt_reasons.h"

namespace aegis::auth {
namespace {

namespace jwt_reason = internal::reason;
constexpr std::string_view kUnmappedCertificate = "client certificate is not mapped to an identity";

}  // namespace

Authenticator::Authenticator(TokenAuthenticator* tokens, UserDirectory* users, const JwtVerifier* jwt,
                             std::vector<CertificateMapping> certificates, const Clock& clock)
    : tokens_(tokens), users_(users), jwt_(jwt), certificates_(std::move(certificates)), clock_(clock) {}

StatusOr<Principal> Authenticator::Authenticate(std::optional<std::string_view> authorization,
                                                const PresentedCertificate* certificate) const {
  const auto method = PresentedMethod(authorization, certificate);
  if (!method) return Status::Unauthenticated("missing bearer token");
  if (*method == Method::kClientCert) return FromCertificate(*certificate);
  auto credential = BearerCredential(authorization);
  if (!credential) return Status::Unauthenticated("unsupported authorization scheme: use Bearer");
  switch (*method) {
    case Method::kSession:
      if (users_ == nullptr) return Status::Unauthenticated("sessions are not accepted here");
      return users_->AuthenticateSession(*credential);
    case Method::kJwt:
      if (jwt_ == nullptr) return Status::Unauthenticated("JWT bearer tokens are not accepted by this server");
      return jwt_->Verify(*credential, clock_.Now());
    default:
      if (TokenAuthenticator::IsApiToken(*credential)) return tokens_->Authenticate(*credential);
      return Status::Unauthenticated("invalid bearer token");
  }
}

// The one place a credential's kind is decided, for Authenticate and for the
// metrics of refused attempts alike.
std::optional<Method> Authenticator::PresentedMethod(std::optional<std::string_view> authorization,
                                                     const PresentedCertificate* certificate) {
  if (authorization) {
    auto credential = BearerCredential(authorization);
    if (credential && UserDirectory::IsSessionToken(*credential)) return Method::kSession;
    if (credential && !TokenAuthenticator::IsApiToken(*credential) && JwtVerifier::LooksLikeJwt(*credential)) {
      return Method::kJwt;
    }
    return Method::kToken;
  }
  if (certificate != nullptr) return Method::kClientCert;
  return std::nullopt;
}

std::optional<std::string_view> Authenticator::ConfigurationHint(const Status& refusal) {
  if (refusal.code() != StatusCode::kUnauthenticated) return std::nullopt;
  static constexpr std::pair<std::string_view, std::string_view> kHints[] = {
      {jwt_reason::kUnknownKey,
       "the JWT names a key id the JWKS does not hold: has the identity provider rotated its keys? "
       "([auth.jwt] jwks_url is re-read every 5 minutes; jwks_file at restart or SIGHUP)"},
      {jwt_reason::kAlgorithmMismatch, "the JWT's alg differs from its JWKS key's: check the identity provider's keys"},
      {jwt_reason::kWrongIssuer, "the JWT's iss is not [auth.jwt] issuer: check it against the identity provider"},
      {jwt_reason::kWrongAudience, "the JWT's aud does not include [auth.jwt] audience"},
      {jwt_reason::kNotYetValid,
       "the JWT is not valid yet: the identity provider's clock may be ahead of this server's (NTP; [auth.jwt] "
       "leeway_seconds)"},
      {jwt_reason::kIssuedInFuture,
       "the JWT was issued in the future: the identity provider's clock may be ahead of this server's (NTP; "
       "[auth.jwt] leeway_seconds)"},
      {kUnmappedCertificate,
       "a client certificate from the trusted CA matches no [[auth.mtls]] subject or san: add a mapping, or "
       "stop issuing it"},
  };
  for (const auto& [reason, hint] : kHints) {
    if (refusal.message() == reason) return hint;
  }
  return std::nullopt;
}

StatusOr<Principal> Authenticator::FromCertificate(const PresentedCertificate& certificate) const {
  Principal p;
  p.method = Method::kClientCert;
  p.credential_id = certificate.fingerprint;
  for (const auto& m : certificates_) {
    const bool by_subject = !m.subject.empty() && m.subject == certificate.subject;
    const bool by_san =
        !m.san.empty() && std::find(certificate.sans.begin(), certificate.sans.end(), m.san) != certificate.sans.end();
    if (!by_subject && !by_san) continue;
    if (p.name.empty()) p.name = "cert:" + (by_subject ? m.subject : m.san);
    p.subject.grants.push_back(m.grant);
  }
  if (p.subject.grants.empty()) return Status::Unauthenticated(std::string(kUnmappedCertificate));
  return p;
}

}  // namespace aegis::auth
