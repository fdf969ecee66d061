// The guard stage of the request path (internal to the api module): the
// limits of guard::RequestGuard applied to a request, answered with 429, the
// JSON error, Retry-After and the RateLimit header fields, audited as a denial
// with the reason, and counted (aegis_rate_limited_total). Health probes and
// other anonymous routes never reach it.
//
// Thread-safety: stateless functions.
#pragma once

#include <string_view>

#include "aegis/api/services.h"
#include "aegis/audit/audit_log.h"
#include "aegis/auth/principal.h"
#include "aegis/http/message.h"

namespace aegis::api::internal {

// Before any credential check. False, with the 429 in plan.immediate, when
// the request's source address has used up its failed authentications.
bool GuardSource(const Services& services, const http::RequestHead& head, http::Plan& plan, audit::AuditEvent& event);
// A request from this source failed to authenticate.
void CountFailedAuthentication(const Services& services, const http::RequestHead& head);

// After authentication: the principal's rate, quota and concurrency, and its
// rate on `model` (empty: not a model route). False, with the 429 in
// plan.immediate, when a limit refuses; otherwise plan.held keeps the
// principal's concurrency slot until the request ends.
bool GuardPrincipal(const Services& services, const auth::Principal& principal, std::string_view model,
                    http::Plan& plan, audit::AuditEvent& event);

}  // namespace aegis::api::internal
