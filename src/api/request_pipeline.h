// Stages shared by the data and control planes: path splitting, authentication,
// and the audit event every request ends in. Internal to the api module.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/api/services.h"
#include "aegis/audit/audit_log.h"
#include "aegis/auth/principal.h"
#include "aegis/common/status.h"
#include "aegis/http/message.h"
#include "aegis/policy/policy.h"

namespace aegis::api::internal {

// "/v2/models/m/infer" → {"v2","models","m","infer"}; nullopt if any segment is
// empty (e.g. "//" or a trailing slash), so routes match exactly one spelling.
std::optional<std::vector<std::string_view>> SplitPath(std::string_view path);

// The audit event for a request performing `action` (its policy::ActionName is
// the event's action), before its outcome is known.
// Its remote is ClientRemote's.
audit::AuditEvent StartEvent(const Services& services, const http::RequestHead& head, policy::Action action,
                             std::string resource);
// The audit event for a request no route matched: action "unknown", resource
// "path:<path>" (no policy::Action: nothing was asked of the policy).
audit::AuditEvent StartUnroutedEvent(const Services& services, const http::RequestHead& head);
// The audit event for a CORS preflight the data plane answered itself
// (CorsPolicy): action "cors.preflight", resource "path:<path>".
audit::AuditEvent StartPreflightEvent(const Services& services, const http::RequestHead& head);

// What a handler learns after the plan was made (why a streamed push was
// refused), written on the worker before the response and read when the
// request ends.
struct LateOutcome {
  std::string reason;
  bool denied = false;
  std::string principal;  // replaces the event's when set (a login names its user)
  std::string auth_method;
};

// Makes `plan` append `event` (completed with status and latency) when the
// request ends, and count the request in the monitor (under `series`, the
// served model version an inference ran on; null for every other request).
// The decision stays allow unless already set to deny (or `late` says denied); a
// reason in `late` replaces the event's.
// A scrape (`scrape` set) answered 200 and allowed is counted in the monitor
// instead of appended: a Prometheus server scraping every 15 s would otherwise
// write thousands of identical events a day.
// The same moment writes the request's access log line (Services::access_log)
// and, for a 5xx, an error line in the server log with the request id.
void AuditOnComplete(http::Plan& plan, const Services& services, const http::RequestHead& head, audit::AuditEvent event,
                     std::shared_ptr<const LateOutcome> late = nullptr, monitor::ModelSeries* series = nullptr,
                     std::optional<monitor::ScrapeListener> scrape = std::nullopt);

// The monitor's hooks; no-ops when the services have no monitor.
inline void ObserveStage(const Services& services, monitor::Stage stage, std::chrono::nanoseconds duration) {
  if (services.monitor != nullptr) services.monitor->ObserveStage(stage, duration);
}
inline void CountAuthAttempt(const Services& services, monitor::AuthMethod method, bool success) {
  if (services.monitor != nullptr) services.monitor->AuthAttempt(method, success);
}

// Authenticates the request (bearer credential or client certificate) and
// names the principal in the event. On failure sets plan.immediate to a 401
// (WWW-Authenticate: Bearer) and marks the event denied. Counts the attempt by
// the credential kind presented, and the stage's time.
std::optional<auth::Principal> Authenticate(const Services& services, const http::RequestHead& head, http::Plan& plan,
                                            audit::AuditEvent& event);

// Asks the policy whether `principal` may perform `action` (on `model` for
// model-scoped permissions; policy::AuthorizeAction). Allowed: records the
// matching grant in the event and returns true. Denied: sets plan.immediate to
// a 403, marks the event denied with the reason, counts the denial, and
// returns false.
bool Authorize(const Services& services, const auth::Principal& principal, policy::Action action,
               std::string_view model, http::Plan& plan, audit::AuditEvent& event);
// A refusal decided outside the policy (no control-plane role): 403, counted as a denial.
void Deny(const Services& services, std::string reason, http::Plan& plan, audit::AuditEvent& event);

// The client's IP address from "ip:port" or "[v6]:port".
std::string SourceAddress(std::string_view remote);
// The client's IP address for throttling, lockout and the guard: the TCP peer,
// or the X-Forwarded-For client when the peer is a trusted proxy
// (http::TrustedProxies).
std::string ClientSource(const Services& services, const http::RequestHead& head);
// The audit event's remote: the peer's "ip:port", or the forwarded client's
// address alone ("203.0.113.9", "[2001:db8::1]": no port is known), which
// SourceAddress reads back.
std::string ClientRemote(const Services& services, const http::RequestHead& head);

// A whole string of decimal digits as an unsigned integer (no sign, no spaces, no
// overflow); nullopt otherwise. For header and query values.
std::optional<uint64_t> ParseDecimal(std::string_view text);

// A plan that answers at once.
http::Plan Respond(http::Response response);

// 405 with an Allow header.
http::Response MethodNotAllowed(std::string_view allow);

// The JSON error response for `status`; a 503 (kUnavailable: a busy model, a
// full body budget) says Retry-After, since it is worth retrying shortly.
http::Response ErrorResponse(const Status& status);

// The audit event for a request the HTTP layer refused: action "http.reject";
// and its access log line when no Plan will write one (refused before Begin).
void AuditRejected(const Services& services, const http::RequestHead& head, int status, std::string_view reason);

}  // namespace aegis::api::internal
