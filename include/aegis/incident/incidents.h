// Incidents: the security incidents of the guard (docs/threat-detection.md,
// "Incidents and response"). Detectors raise a signal; the same (kind,
// principal, model) while open or acknowledged is one incident whose count
// and last_seen grow, anything else opens a new one. Incidents live in the
// metadata store (they survive a restart). When one opens, its kind's
// playbook runs (suspend the principal, ...), and each action is recorded on
// it with its time. Operators acknowledge and resolve them with a note.
//
// Every raise, playbook action and state change appends an audit event
// (incident.opened, incident.updated, incident.response,
// incident.acknowledged, incident.resolved); the open incidents are counted
// per kind and severity for aegis_incidents_open.
//
// Bounded: the unresolved incidents are cached (at most max_cached keys;
// beyond that a raise asks the store by its index); Post() queues at most
// queue_capacity signals for the incidents thread and counts what it drops.
// Evidence is at most kMaxEvidenceEntries key/value strings, each cut to
// kMaxEvidenceValue bytes with control characters replaced, and entries are
// dropped from the end until its JSON fits the store's 4 KiB.
//
// Example:
//   auto incidents = Incidents::Create(store, log, Clock::Real(), {});
//   (*incidents)->Post({.kind = IncidentKind::kBruteForce, .severity = Severity::kHigh,
//                       .principal = "user:alice", .source = "192.0.2.7"});
//
// Thread-safety: every method is safe for concurrent use. Raise, Acknowledge,
// Resolve, Get and List write or read the database: worker threads only.
// Post never blocks: any thread, the I/O threads included.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aegis/audit/audit_log.h"
#include "aegis/common/clock.h"
#include "aegis/common/status.h"
#include "aegis/store/metadata_store.h"

namespace aegis::incident {

enum class IncidentKind : uint8_t {
  kRateAbuse,
  kBruteForce,
  kOutOfDistribution,
  kExtraction,
  kIntegrity,
  kEngineCrash,
  kAudit,
};
inline constexpr size_t kIncidentKindCount = 7;
enum class Severity : uint8_t { kLow, kMedium, kHigh, kCritical };
inline constexpr size_t kSeverityCount = 4;
enum class IncidentState : uint8_t { kOpen, kAcknowledged, kResolved };
// What a playbook may do when an incident opens.
enum class ResponseAction : uint8_t { kAlert, kThrottle, kSuspend, kWithdraw };

// The names stored and shown ("rate_abuse", "high", "acknowledged",
// "suspend"); the parsers take exactly those (case-sensitive), nullopt otherwise.
std::string_view IncidentKindName(IncidentKind kind);
std::optional<IncidentKind> ParseIncidentKind(std::string_view name);
std::string_view SeverityName(Severity severity);
std::optional<Severity> ParseSeverity(std::string_view name);
std::string_view IncidentStateName(IncidentState state);
std::optional<IncidentState> ParseIncidentState(std::string_view name);
std::string_view ResponseActionName(ResponseAction action);
std::optional<ResponseAction> ParseResponseAction(std::string_view name);

// An incident id as the store keeps it: 32 lowercase hex characters.
bool IsIncidentId(std::string_view id);

// A principal name that may be suspended or named by an incident:
// "token:", "user:", "jwt:" or "cert:" then 1 to 256 bytes of UTF-8 without
// control characters. InvalidArgument saying why otherwise.
Status CheckPrincipalName(std::string_view name);

// A resolution note: at most kMaxNoteBytes of UTF-8 without control
// characters other than newline and tab. It is data, never markup.
inline constexpr size_t kMaxNoteBytes = 1024;
Status CheckNote(std::string_view note);

inline constexpr size_t kMaxEvidenceEntries = 12;
inline constexpr size_t kMaxEvidenceValue = 256;

// What a detector saw.
struct IncidentSignal {
  IncidentKind kind = IncidentKind::kAudit;
  Severity severity = Severity::kMedium;
  std::string principal;  // empty when none (integrity, engine_crash)
  std::string model, version, source;
  std::vector<std::pair<std::string, std::string>> evidence;  // key -> value, both bounded when stored
  // When the detector's evidence began (the first query of the window it
  // judged, ...), when it knows: time-to-detect runs from here to detected_at.
  // Unset: the signal is its own evidence (a crash, a refused load).
  std::optional<std::chrono::system_clock::time_point> evidence_since;
  // When the detector fired; Post and Raise set it when unset. Time-to-contain
  // runs from here to the end of the playbook's containing actions.
  std::optional<std::chrono::system_clock::time_point> detected_at;
  // The principal holds an admin grant: playbooks never suspend or throttle it
  // (that could lock the operators out of their own server); they alert and
  // record why, and an operator decides.
  bool administrator = false;
};

// The actions run when an incident of each kind opens.
struct Playbooks {
  std::array<std::vector<ResponseAction>, kIncidentKindCount> by_kind;
  // The documented defaults (docs/threat-detection.md): "suspend" for
  // extraction, nothing else; never "suspend" for brute_force (anyone can make a
  // name fail logins: suspending it would hand them a denial of service).
  static Playbooks Defaults();
  const std::vector<ResponseAction>& For(IncidentKind kind) const { return by_kind[static_cast<size_t>(kind)]; }
};

// What the playbook actions act on; the serve command wires them. An unset one
// is recorded as "not available in this build". Throttle and withdraw hold
// their target while the incident is unresolved (`holder` is its id): resolving
// it lets go, and SyncContainment holds on this server what the unresolved
// incidents record (at start, and when another server's playbook acted). A suspension outlives its incident (`aegis
// principal reinstate` lifts it), since it answers a credential that is likely stolen.
struct Responders {
  // Suspends the principal (guard::Suspensions::Suspend); the reason names the incident.
  std::function<Status(const std::string& principal, const std::string& reason)> suspend;
  // Lowers the principal's rate (guard::RequestGuard::Throttle) / lets go.
  std::function<Status(const std::string& principal, const std::string& holder)> throttle;
  std::function<void(const std::string& principal, const std::string& holder)> unthrottle;
  // The version stops serving (registry::Registry::Withdraw) / lets go.
  std::function<Status(const std::string& model, const std::string& version, const std::string& holder)> withdraw;
  std::function<void(const std::string& model, const std::string& version, const std::string& holder)> reinstate;
  // Queues one Alertmanager alert (AlertJson) for the alert webhook.
  std::function<Status(const std::string& alert_json)> alert;
  // What "throttle" lowers a rate to, for the action's record ("60/m").
  std::string throttle_rate;
};

// One alert of an Alertmanager webhook payload (version "4") for `r`:
// {"status": "firing"|"resolved", "labels": {"alertname": kind, "severity",
// "incident", "principal", "model", "version", "service": "aegis"} (empty ones
// left out), "annotations": {"summary", "description"}, "startsAt": first_seen,
// "endsAt": `ends_at` (resolved) or "0001-01-01T00:00:00Z" (firing, as
// Alertmanager writes it), "generatorURL": "", "fingerprint": 16 hex digits
// of SHA-256 over the labels but severity, which may rise}.
std::string AlertJson(const store::IncidentRecord& r, bool resolved, const std::string& ends_at);

// The incident-response KPI: seconds from evidence to detection and from
// detection to containment (aegis_incident_detect_seconds,
// aegis_incident_contain_seconds). Cumulative from start.
struct TimingHistogram {
  static constexpr std::array<double, 14> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60,   300};
  std::array<uint64_t, kBounds.size() + 1> buckets{};  // not cumulative; the last is +Inf
  double sum = 0;
  uint64_t count = 0;
  void Observe(double seconds);
};
struct ResponseTimings {
  TimingHistogram detect, contain;
};

struct IncidentsOptions {
  Playbooks playbooks = Playbooks::Defaults();
  Responders responders;
  size_t max_cached = 10000;     // unresolved incidents kept in memory for de-duplication
  size_t queue_capacity = 1024;  // signals waiting for the incidents thread
};

// Open incidents per kind and severity (aegis_incidents_open).
using OpenCounts = std::array<std::array<uint64_t, kSeverityCount>, kIncidentKindCount>;

class Incidents {
 public:
  // Loads the unresolved incidents and starts the incidents thread. `store`,
  // `audit` and `clock` must outlive the object.
  static StatusOr<std::unique_ptr<Incidents>> Create(store::MetadataStore* store, audit::AuditLog* audit,
                                                     const Clock& clock, IncidentsOptions options = {});
  ~Incidents();  // raises what is queued, then stops the thread
  Incidents(const Incidents&) = delete;
  Incidents& operator=(const Incidents&) = delete;

  // Opens an incident or merges the signal into the unresolved one of the same
  // (kind, principal, model). Returns the incident as stored.
  StatusOr<store::IncidentRecord> Raise(const IncidentSignal& signal);
  // Raise on the incidents thread; never blocks. Dropped (and counted) when
  // queue_capacity signals are already waiting.
  void Post(IncidentSignal signal);
  // Returns once every signal posted before the call was raised (tests, shutdown).
  void Drain();

  // open -> acknowledged. InvalidArgument for a bad id, NotFound, and
  // FailedPrecondition-like InvalidArgument when it is resolved already.
  StatusOr<store::IncidentRecord> Acknowledge(const std::string& id, const std::string& by);
  // open|acknowledged -> resolved, with the note (CheckNote).
  StatusOr<store::IncidentRecord> Resolve(const std::string& id, const std::string& note, const std::string& by);

  StatusOr<store::IncidentRecord> Get(const std::string& id);
  // Newest first, at most `limit`.
  StatusOr<std::vector<store::IncidentRecord>> List(std::optional<IncidentState> state, size_t limit) const;

  OpenCounts CountOpen() const;
  uint64_t Dropped() const;
  ResponseTimings Timings() const;

  // At start, once the guard and the registry exist: holds again the throttles
  // and withdrawals the unresolved incidents recorded (they live in memory).
  void ReapplyContainment() { SyncContainment("at start"); }
  // Makes what this server holds match the unresolved incidents in the store
  // exactly: holds the throttles and withdrawals they record that it does not
  // hold yet (another server's playbook took them), lets go of those whose
  // incident is resolved (on another server), and reloads the de-duplication
  // cache and the open counts. Idempotent: only a real change is audited (an
  // action that cannot act here is audited once, and retried on every call).
  // Servers sharing a store call it on every incidents change
  // (store::kIncidentsChanged) and full refresh. `when` names the occasion in
  // the audit detail ("at start").
  void SyncContainment(std::string_view when = "from the shared store");

 private:
  struct Cached {
    std::string id;
    IncidentState state = IncidentState::kOpen;
    Severity severity = Severity::kMedium;
  };

  Incidents(store::MetadataStore* store, audit::AuditLog* audit, const Clock& clock, IncidentsOptions options);
  Status Load();
  void Run();
  StatusOr<store::IncidentRecord> OpenNew(const IncidentSignal& signal, const std::string& key);
  StatusOr<store::IncidentRecord> Bump(store::IncidentRecord record, const IncidentSignal& signal);
  // Runs the playbook of a new incident; returns when containment ended, if
  // the playbook contains (suspend, throttle, withdraw) and all of it took.
  // An action that could not act is recorded as "<action>_failed" with why, so
  // that only what took is released on resolve and re-applied at start.
  std::optional<std::chrono::system_clock::time_point> Respond(const store::IncidentRecord& record, bool administrator);
  // An unresolved incident raised again with a higher severity (a failed audit
  // verification merged into an open sink-drop incident, ...) alerts again,
  // when its kind's playbook alerts: the receiver must not miss the rise.
  void AlertEscalation(const store::IncidentRecord& record);
  // Stores and audits one playbook action: "<action>" with `outcome`, or
  // "<action>_failed" with "not done: <why>" when `done` is an error.
  void RecordResponse(const std::string& id, ResponseAction action, const Status& done, std::string outcome);
  // Lets go of what a resolved incident held here, and tells the alert receiver.
  void Release(const store::IncidentRecord& record);
  // Rebuilds the cache and the counts from the store (under mu_). Returns the
  // unresolved incidents read (at most max_cached + 1), and in `complete`
  // whether that is all of them.
  StatusOr<std::vector<store::IncidentRecord>> ReadUnresolved(bool* complete);
  // One throttle or withdrawal an incident holds: ("throttle" | "withdraw", id).
  using HeldKey = std::pair<std::string, std::string>;
  struct HeldTarget {
    std::string principal, model, version;
  };
  // Holds `target` for `key` (a responder call). Under contain_mu_.
  Status Hold(const HeldKey& key, const HeldTarget& target);
  // Lets go of `key` if held here and audits it. Under contain_mu_.
  void LetGo(const HeldKey& key);
  StatusOr<store::IncidentRecord> Transition(const std::string& id, IncidentState to, const std::string& note,
                                             const std::string& by);
  void Count(IncidentKind kind, Severity severity, int delta);  // holds mu_
  void Audit(audit::SystemAction action, const std::string& id, std::string detail, const std::string& principal = "");

  store::MetadataStore* const store_;
  audit::AuditLog* const audit_;
  const Clock& clock_;
  const IncidentsOptions options_;

  mutable std::mutex mu_;  // the cache, the counts and every incident write
  std::unordered_map<std::string, Cached> unresolved_;
  bool cache_complete_ = true;  // false once an unresolved incident is not cached
  OpenCounts open_{};

  // Serializes the playbooks, releases and SyncContainment, so a sync never
  // sees a hold whose action is not recorded yet. Taken before mu_.
  std::mutex contain_mu_;
  std::map<HeldKey, HeldTarget> held_;  // what this server holds, by incident
  std::set<HeldKey> unheld_;            // recorded holds that could not act here (audited once)

  mutable std::mutex timing_mu_;
  ResponseTimings timings_;

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_, idle_cv_;
  std::deque<IncidentSignal> queue_;
  bool busy_ = false, stopping_ = false;
  uint64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace aegis::incident
