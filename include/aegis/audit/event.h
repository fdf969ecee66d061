// AuditEvent: one record of the audit log — who did what to which resource, the
// decision and the outcome — and the closed vocabularies its typed fields take.
//
// Two vocabularies name an event's action, and an event uses exactly one:
//   - requests (a call on the data or control plane): the API layer names them
//     with policy::ActionName (aegis/policy/policy.h), the same enum the policy
//     authorizes, so the action audited is the action authorized;
//   - the server's own events, which no request caused (start, stop, the log's
//     key, dropped sink events): SystemAction below, written by SystemEvent.
// On disk every enum is written as the string its *Name function returns; those
// strings are part of the log's format (existing logs verify against them) and
// never change.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aegis::audit {

// The outcome of the policy (and of integrity checks): "allow" | "deny".
enum class Decision { kAllow, kDeny };
std::string_view DecisionName(Decision decision);

// Where an event came from: the network listener that took the request
// ("data" | "admin" | "metrics"), or "cli" for events of the server itself and
// of the `aegis` command (no listener).
enum class Listener { kData, kAdmin, kCli, kMetrics };
std::string_view ListenerName(Listener listener);

// The server's own events (not requests).
enum class SystemAction {
  kServerInit,         // "server.init": `aegis init` created the installation
  kServerStart,        // "server.start"
  kServerStop,         // "server.stop"
  kModelLoadFailed,    // "model.load_failed": a recorded version was not served at start
  kAuditStart,         // "audit.start": the log opened (tree size, crash repair)
  kAuditStop,          // "audit.stop"
  kAuditKeyCreated,    // "audit.key_created": the log's signing key was made
  kAuditVerifyFailed,  // "audit.verify_failed": the background re-verification failed
  kAuditSinkDrop,      // "audit.sink_drop": a SIEM sink dropped events
  kAuditArchive,       // "audit.archive": sealed segments moved to cold storage
  kAuditPrune,         // "audit.prune": archived segments past [audit] retention_days left the live log
  // What happened to a version's confined engine workers (runtime::RuntimeEvent):
  kRuntimeWorkerCrashed,      // "runtime.worker_crashed"
  kRuntimeWorkerTimedOut,     // "runtime.worker_timed_out"
  kRuntimeProtocolViolation,  // "runtime.protocol_violation"
  kRuntimeSandboxViolation,   // "runtime.sandbox_violation"
  kRuntimeWorkerRestarted,    // "runtime.worker_restarted"
  kModelWithdrawn,            // "model.withdrawn": too many failures; the version no longer serves
  // "http.connection_limit": what a listener's connection caps and deadlines
  // did (refused, displaced, timed out), summed over at most a minute
  kHttpConnectionLimit,
  // Security incidents (guard::Incidents):
  kIncidentOpened,        // "incident.opened": a detector raised a new incident
  kIncidentUpdated,       // "incident.updated": the same incident was raised again (count, last_seen)
  kIncidentResponse,      // "incident.response": a playbook action was taken (or could not be)
  kIncidentAcknowledged,  // "incident.acknowledged": an operator acknowledged it
  kIncidentResolved,      // "incident.resolved": an operator resolved it, with a note
  // "config.reload": SIGHUP re-read the TLS files and aegis.toml; allow when
  // applied (what changed, what needs a restart), deny when refused (why; the
  // running configuration was kept)
  kConfigReload,
  // "store.migrate": `aegis store migrate` copied the installation's state from
  // its SQLite database into PostgreSQL (what was copied, or why it failed)
  kStoreMigrate,
};
std::string_view SystemActionName(SystemAction action);

// What a summary event stands for ([audit] inference_events = "summary"): the
// successful requests of one principal on one resource from one source address
// in one window, counted instead of written one by one (docs/audit.md).
struct EventSummary {
  int64_t window_ms = 1000;                        // the window starts at the event's `time`
  uint64_t count = 0;                              // requests summarized
  std::vector<std::pair<int, uint64_t>> statuses;  // HTTP status → requests, by status
  // Latency quantiles (nearest rank) and the highest, in microseconds.
  int64_t p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
};

struct AuditEvent {
  std::chrono::system_clock::time_point time;
  // The request's id, as its response's X-Request-Id: the server's own (unique
  // per request) unless request_id_from_client says the client chose it.
  std::string request_id;
  // Written as "request_id_origin":"client" when set: the client sent a valid
  // X-Request-Id, which the server adopted (it need not be unique).
  bool request_id_from_client = false;
  std::string traceparent;  // a valid W3C traceparent the client sent; empty if none
  std::string principal;    // "anonymous" before authentication; "token:ci", "user:alice", ...
  std::string auth_method;  // "token" | "session" | "jwt" | "mtls"; empty when unauthenticated
  std::string grant;        // the grant that allowed the action ("consumer:fraud-*"); empty if none
  // A policy::ActionName for requests ("infer", "model.push", ...), a
  // SystemActionName for the server's own events (see the top of this file).
  std::string action;
  std::string resource;  // "model:mlp/versions/1", "server", ...
  // Deny unless someone decided otherwise: an event nobody completed does not
  // claim that something was allowed.
  Decision decision = Decision::kDeny;
  int status = 0;  // HTTP status
  int64_t latency_us = 0;
  std::string remote;  // client "ip:port"
  Listener listener = Listener::kCli;
  std::string reason;  // why denied or failed (every 5xx has one); empty when fine
  // Set on summary events only (written as the last member, "summary").
  std::optional<EventSummary> summary;
};

// An event of the server itself, not tied to a request: principal "system",
// listener "cli".
AuditEvent SystemEvent(std::chrono::system_clock::time_point time, SystemAction action, std::string resource,
                       std::string reason = "", Decision decision = Decision::kAllow);

// The event as one JSON object without the log's seq/prev members (tests, tools).
std::string EventToJson(const AuditEvent& event);

}  // namespace aegis::audit
