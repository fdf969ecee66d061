// Monitor: Aegis's security and performance metrics — the Prometheus text
// exposition of GET /metrics and the live dashboard's data (GET /v1/dashboard).
//
// Two kinds of numbers:
// - Events counted on the request path (requests, latencies, per-stage costs,
//   authentication attempts, authorization denials): relaxed atomics in cells
//   resolved ahead of time. No lock, no allocation; a served model's cell is
//   found in an immutable index without a lock. The histograms are our own
//   fixed-bucket atomics (prometheus::Histogram locks a mutex per Observe); the
//   exposition is built from prometheus-cpp's MetricFamily and TextSerializer.
// - State (models loaded, open incidents, audit tree size, certificate expiry,
//   KEK age, integrity counters, connection limits) read from the services at
//   scrape time.
//
// Cardinality is bounded whatever clients send: `model`/`version` values come
// only from ServedModel records the registry handed out (never from a request
// path), at most kMaxModelSeries of them; every other request is model="-",
// version="-". `code` is the status the server chose (100..599); `stage`,
// `method` and `result` are fixed sets. The dashboard keeps 180 buckets of 5 s.
//
// Example:
//   Monitor monitor({.registry = &registry, .users = users, .audit = log});
//   monitor.Start();
//   ModelSeries* series = monitor.SeriesFor(*served);   // once per request
//   monitor.ObserveStage(Stage::kEngine, elapsed);
//   monitor.RequestEnded(series, 200, /*denied=*/false, latency);
//   std::string text = monitor.PrometheusText();
//
// Thread-safety: every method is safe for concurrent use.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/audit/audit_log.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/user_directory.h"
#include "aegis/common/access_log.h"
#include "aegis/common/clock.h"
#include "aegis/common/mutex.h"
#include "aegis/common/periodic_thread.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/guard/extraction_detector.h"
#include "aegis/guard/memory_budget.h"
#include "aegis/guard/request_guard.h"
#include "aegis/guard/screening.h"
#include "aegis/incident/incidents.h"
#include "aegis/monitor/stage_timer.h"
#include "aegis/registry/registry.h"

namespace aegis::monitor {

// Stages of a request whose cost is measured (aegis_stage_duration_seconds).
enum class Stage : uint8_t {
  kTls,     // the TLS handshake (once per connection)
  kAuth,    // authenticating the credential
  kPolicy,  // the authorization decision
  kGuard,   // parsing and validating an inference request before the engine
  kEngine,  // the engine's inference
  kAudit,   // handing the request's audit event to the log
};
inline constexpr size_t kStageCount = 6;
std::string_view StageName(Stage stage);  // "tls", "auth", ...

// The credential kind of an authentication attempt (aegis_auth_attempts_total).
enum class AuthMethod : uint8_t { kToken, kSession, kJwt, kMtls, kPassword, kNone };
inline constexpr size_t kAuthMethodCount = 6;
std::string_view AuthMethodName(AuthMethod method);  // "token", ..., "password", "none"

inline constexpr size_t kMaxModelSeries = 128;

// Where a GET /metrics was answered (aegis_metrics_scrapes_total{listener}):
// the control plane (a token) or the dedicated [metrics] listener.
enum class ScrapeListener : uint8_t { kAdmin, kMetrics };
inline constexpr size_t kScrapeListenerCount = 2;
std::string_view ScrapeListenerName(ScrapeListener listener);  // "admin", "metrics"

// What the connection limits of one listener did since start (the HTTP
// server's counters, read at scrape time; docs/limits.md).
struct ListenerConnections {
  std::string listener;  // http::ListenerName: "data" or "admin", a fixed set
  int active = 0;
  uint64_t accepted = 0;
  uint64_t refused_listener_cap = 0, refused_source_cap = 0;      // closed at accept: all in a request
  uint64_t displaced_listener_cap = 0, displaced_source_cap = 0;  // closed to make room for a newer one
  uint64_t handshake_timeouts = 0, first_byte_timeouts = 0;
};

// aegis_config_last_reload_success and aegis_config_last_reload_timestamp_seconds.
struct ConfigReload {
  bool success = true;
  std::chrono::system_clock::time_point time;
};

struct MonitorOptions {
  const registry::Registry* registry = nullptr;  // models loaded, integrity counts, the dashboard's models
  // aegis_incidents_open{kind,severity}; when unset, the login lockouts and
  // throttled sources of `users` are counted under that name without labels.
  const incident::Incidents* incidents = nullptr;
  const auth::UserDirectory* users = nullptr;  // the dashboard's login incidents
  // The dashboard's credentials view (break-glass token, no expiry, expired, unused).
  const auth::TokenAuthenticator* tokens = nullptr;
  // aegis_extraction_tracked, aegis_extraction_tracked_bytes, aegis_extraction_alarms_total.
  const guard::ExtractionDetector* extraction = nullptr;
  const audit::AuditLog* audit = nullptr;  // audit counters and tree head
  // notAfter of the server certificate now (it changes with a reload);
  // unset or nullopt: not exported.
  std::function<std::optional<std::chrono::system_clock::time_point>()> tls_not_after;
  // The access log's written and dropped lines; null: exported as 0.
  const AccessLog* access_log = nullptr;
  // The outcome of the last configuration load (the start counts as one) or
  // SIGHUP reload; unset: not exported.
  std::function<ConfigReload()> last_reload;
  // The KEK's files (keys/kek.key, keys/kek.sealed): the first that exists
  // gives aegis_kek_age_seconds by its modification time.
  std::vector<std::filesystem::path> kek_files;
  const Clock* clock = &Clock::Real();
  // How model code runs: "none" is reported as a finding.
  runtime::Isolation isolation = runtime::Isolation::kProcess;
  // The listeners' connection counters; unset: no connection metrics.
  std::function<std::vector<ListenerConnections>()> connections;
  // The memory budget for request bodies: bytes held, its limit and refusals.
  const guard::MemoryBudget* body_budget = nullptr;
  // Input screening: aegis_screening_flagged_total{model,reason} and
  // aegis_feature_drift{model,version,input,feature}; unset: not exported.
  const guard::Screening* screening = nullptr;
  // aegis_startup_seconds, once the start-up loading has finished; unset or
  // nullopt: not exported.
  std::function<std::optional<double>()> startup_seconds;
};

// A request that ended denied, as the dashboard lists it (who, from where, why).
struct DenialRecord {
  std::chrono::system_clock::time_point time;
  std::string principal;  // "anonymous" when no credential was accepted
  std::string remote;     // the audit event's remote: "ip:port" or a forwarded client
  std::string action;     // the audit action ("infer", "login", "http.reject", ...)
  std::string resource;
  int status = 0;
  std::string reason;
};

// The counters of one served model version (or of model="-"). Opaque; owned by
// the Monitor and alive as long as it is.
class ModelSeries;

namespace internal {
struct Counters;
class Timeline;
class DenialLog;
}  // namespace internal

class Monitor {
 public:
  explicit Monitor(MonitorOptions options);
  ~Monitor();  // stops the ticker
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // A thread that closes a dashboard bucket every 5 s. Without it buckets are
  // closed when the dashboard is read, and counts land in the bucket then open.
  void Start() AEGIS_EXCLUDES(ticker_mu_);
  void Stop() AEGIS_EXCLUDES(ticker_mu_);

  // --- The request path -------------------------------------------------
  // The API layer began a request: aegis_requests_in_flight counts it until its
  // RequestEnded.
  void RequestBegan();
  // The cell of a model version the registry serves; the same pointer for the
  // same name and version. Beyond kMaxModelSeries versions: the "-" cell.
  ModelSeries* SeriesFor(const registry::ServedModel& model);
  // A request that RequestBegan ended. `series` null: model="-". `denied`:
  // refused by an access control (the audit decision was deny, or the status is
  // 401/403/429).
  void RequestEnded(ModelSeries* series, int status, bool denied, std::chrono::nanoseconds latency);
  // The engine answered (ok) or failed an inference of `series` (null: not
  // counted), after it waited `queue_wait` for a free instance and ran in a
  // batch of `batch_size` requests.
  void InferenceCompleted(ModelSeries* series, bool ok, std::chrono::nanoseconds queue_wait, int batch_size);
  // A GET /metrics was answered 200 on `listener`: counted instead of audited.
  void MetricsScraped(ScrapeListener listener);
  // A request the HTTP layer refused before any handler (malformed, too large,
  // timed out): model="-", a denial, no latency.
  void RequestRejected(int status);
  void ObserveStage(Stage stage, std::chrono::nanoseconds duration);
  void AuthAttempt(AuthMethod method, bool success);
  void AuthzDenied();
  // Something happened to an engine worker (crash, timeout, sandbox violation...).
  void RuntimeEvent(runtime::RuntimeEvent::Kind kind);
  // An inference response was refused for being over its model's size limit.
  void ResponseTooLarge();
  // A request ended denied (its audit event's decision): kept for the
  // dashboard's recent denials, integrity refusals also on their own.
  void RecordDenial(DenialRecord denial);
  // The guard stage refused a request (429) for `reason`.
  void RateLimited(guard::GuardReason reason);

  // --- Readers ------------------------------------------------------------
  // The Prometheus text format, version 0.0.4.
  std::string PrometheusText() const;
  // GET /v1/dashboard's JSON: the dashboard data contract (generated_at, build,
  // bucket_seconds, series, models, stages, incidents, denials, integrity,
  // credentials, audit, totals; 180 buckets of 5 s).
  std::string DashboardJson();
  // Closes every dashboard bucket that ended by now. The ticker calls this.
  void Tick();

 private:
  const MonitorOptions options_;
  std::unique_ptr<internal::Counters> counters_;
  std::unique_ptr<internal::Timeline> timeline_;
  std::unique_ptr<internal::DenialLog> denials_;
  const std::chrono::system_clock::time_point started_;  // what "unused since" counts from

  Mutex ticker_mu_;                                                    // serializes Start and Stop
  std::optional<PeriodicThread> ticker_ AEGIS_GUARDED_BY(ticker_mu_);  // running between Start and Stop
};

}  // namespace aegis::monitor
