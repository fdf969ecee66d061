#include "aegis/auth/authenticator.h"

#include <algorithm>

namespace aegis::auth {

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
  if (p.subject.grants.empty()) return Status::Unauthenticated("client certificate is not mapped to an identity");
  return p;
}

}  // namespace aegis::auth
