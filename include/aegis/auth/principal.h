// Principal: who made a request, however they proved it, and what the policy
// may grant them.
//
// Thread-safety: value type.
#pragma once

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

struct Principal {
  // What the audit log records: "token:<name>", "user:<name>", "jwt:<sub>",
  // "cert:<subject or SAN>". Never a secret.
  std::string name;
  Method method = Method::kToken;
  // Public id of the credential: token id, session id, JWT kid, certificate
  // fingerprint. Never a secret.
  std::string credential_id;
  policy::Subject subject;
};

}  // namespace aegis::auth
