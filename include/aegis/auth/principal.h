// Principal: who made a request, however they proved it, and what the policy
// may grant them.
//
// Thread-safety: value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aegis/policy/policy.h"

namespace aegis::auth {

enum class Method {
  kToken,       // an Aegis API token (service account)
  kSession,     // a person's login session (password + TOTP)
  kJwt,         // a bearer JWT from the configured OIDC provider
  kClientCert,  // a client certificate verified against [tls] client_ca
};

// "token" | "session" | "jwt" | "mtls" — the `method` label of metrics and audit.
std::string_view MethodName(Method method);

// A credential's own request limits, set when the token or user was created
// (`--rate`, `--burst`, `--quota`); zero fields leave the server's [guard]
// defaults in force (see aegis/guard/request_guard.h).
struct CredentialLimits {
  double rate_per_second = 0;
  uint64_t burst = 0;
  uint64_t quota_per_day = 0;
};

struct Principal {
  // What the audit log records: "token:<name>", "user:<name>", "jwt:<sub>",
  // "cert:<subject or SAN>". Never a secret.
  std::string name;
  Method method = Method::kToken;
  // Public id of the credential: token id, session id, JWT kid, certificate
  // fingerprint. Never a secret.
  std::string credential_id;
  policy::Subject subject;
  CredentialLimits limits;
};

}  // namespace aegis::auth
