// `aegis serve`: the composition root. Opens the KEK, the store and the audit log,
// loads every model from the encrypted store, and serves both planes until
// SIGTERM/SIGINT, then drains in-flight requests and exits 0.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "aegis/api/control_plane.h"
#include "aegis/api/data_plane.h"
#include "aegis/api/metrics_plane.h"
#include "aegis/audit/audit_log.h"
#include "aegis/audit/syslog_sink.h"
#include "aegis/audit/webhook_sink.h"
#include "aegis/auth/authenticator.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/user_directory.h"
#include "aegis/cli/config.h"
#include "aegis/common/access_log.h"
#include "aegis/common/file_util.h"
#include "aegis/common/log.h"
#include "aegis/common/periodic_thread.h"
#include "aegis/crypto/certificates.h"
#include "aegis/guard/extraction_detector.h"
#include "aegis/guard/memory_budget.h"
#include "aegis/guard/refusal_tracker.h"
#include "aegis/guard/screening.h"
#include "aegis/guard/system_memory.h"
#include "aegis/http/host_port.h"
#include "aegis/http/server.h"
#include "aegis/incident/incidents.h"
#include "aegis/incident/suspensions.h"
#include "aegis/keys/key_provider.h"
#include "aegis/monitor/monitor.h"
#include "aegis/policy/policy.h"
#include "aegis/registry/registry.h"
#include "aegis/store/metadata_store.h"
#include "commands.h"
#include "jwks_source.h"
#include "passphrase.h"
#include "reload.h"
#include "replica_id.h"
#include "store_open.h"

namespace aegis::cli {
namespace {

// ONNX Runtime is the default ONNX engine: without its package, fail at start
// with the fix rather than at the first ONNX model.
Status CheckOnnxRuntime(const Config& config) {
  bool needed = config.runtime.onnx_engine == runtime::OnnxEngine::kOnnxRuntime;
  for (const auto& [name, o] : config.models) needed |= o.onnx_engine == runtime::OnnxEngine::kOnnxRuntime;
  if (!needed) return Status::Ok();
  const std::string missing = runtime::OnnxRuntimeMissing(config.runtime.onnxruntime_dir);
  return missing.empty() ? Status::Ok() : Status::Unavailable(missing);
}

struct ServeOptions {
  std::string data_dir;
  std::string listen, admin_listen;
  std::string log_level;  // --log-level: replaces [logging] level, also at a reload
};

void AuditLifecycle(audit::AuditLog& log, audit::SystemAction action, const std::string& detail) {
  log.Append(audit::SystemEvent(Clock::Real().Now(), action, "server", detail));
}

// What happened to a model's engine workers, as a system event on the version.
void AuditRuntimeEvent(audit::AuditLog& log, const std::string& name, const std::string& version,
                       const runtime::RuntimeEvent& event) {
  using Kind = runtime::RuntimeEvent::Kind;
  audit::SystemAction action = audit::SystemAction::kRuntimeWorkerCrashed;
  switch (event.kind) {
    case Kind::kWorkerCrashed:
      action = audit::SystemAction::kRuntimeWorkerCrashed;
      break;
    case Kind::kWorkerTimedOut:
      action = audit::SystemAction::kRuntimeWorkerTimedOut;
      break;
    case Kind::kProtocolViolation:
      action = audit::SystemAction::kRuntimeProtocolViolation;
      break;
    case Kind::kSandboxViolation:
      action = audit::SystemAction::kRuntimeSandboxViolation;
      break;
    case Kind::kWorkerRestarted:
      action = audit::SystemAction::kRuntimeWorkerRestarted;
      break;
    case Kind::kWithdrawn:
      action = audit::SystemAction::kModelWithdrawn;
      break;
  }
  const audit::Decision decision =
      event.kind == Kind::kWorkerRestarted ? audit::Decision::kAllow : audit::Decision::kDeny;
  log.Append(audit::SystemEvent(Clock::Real().Now(), action, "model:" + name + "/versions/" + version, event.detail,
                                decision));
}

// A pointer to something made later than its users, or destroyed earlier:
// callers reach it only under the lock, and the owner unbinds it (Bind(nullptr))
// before destroying it, so no call is in flight on a dead object.
template <typename T>
class LateBound {
 public:
  void Bind(T* target) {
    std::lock_guard lock(mu_);
    target_ = target;
  }
  // f(T&) under the lock; `absent` when nothing is bound.
  template <typename F, typename R>
  R With(F&& f, R absent) {
    std::lock_guard lock(mu_);
    if (target_ != nullptr) return f(*target_);
    return absent;
  }

 private:
  std::mutex mu_;
  T* target_ = nullptr;
};

// Unbinds at scope exit: declared right after the object it points to.
template <typename T>
struct Unbind {
  LateBound<T>& late;
  ~Unbind() { late.Bind(nullptr); }
};

// The runtime's response loop (RuntimeOptions::response_loop): the HTTP
// server's I/O threads, once the server exists; until then no watch is made
// and the instances' drivers answer.
class LateEventLoop final : public EventLoop {
 public:
  LateBound<EventLoop>& target() { return target_; }
  bool InLoopThread() const override {
    return target_.With([](EventLoop& loop) { return loop.InLoopThread(); }, false);
  }
  std::unique_ptr<Watch> WatchReadable(int fd, std::function<void()> on_readable) override {
    return target_.With([&](EventLoop& loop) { return loop.WatchReadable(fd, std::move(on_readable)); },
                        std::unique_ptr<Watch>());
  }

 private:
  mutable LateBound<EventLoop> target_;
};

// An incident of kind "audit" for what threatens the record itself.
void PostAuditIncident(LateBound<incident::Incidents>& incidents, incident::Severity severity, std::string source,
                       std::vector<std::pair<std::string, std::string>> evidence) {
  incidents.With(
      [&](incident::Incidents& inc) {
        inc.Post({incident::IncidentKind::kAudit, severity, "", "", "", std::move(source), std::move(evidence)});
        return true;
      },
      false);
}

// A sink that had to drop events says so in the local log (from the sink's own
// thread, never from the writer's: Append may wait for the writer).
std::function<void(uint64_t)> ReportDrops(audit::AuditLog* log, const char* sink) {
  return [log, sink](uint64_t dropped) {
    log->Append(audit::SystemEvent(Clock::Real().Now(), audit::SystemAction::kAuditSinkDrop,
                                   std::string("sink:") + sink, "dropped " + std::to_string(dropped) + " events"));
  };
}

// The configured SIEM sinks, registered with the log before its first event.
// A sink that drops events also raises an "audit" incident: the copy outside
// the server is what survives an attacker who owns the machine.
std::vector<std::shared_ptr<audit::AuditSink>> StartSinks(const Config& config, audit::AuditLog& log,
                                                          LateBound<incident::Incidents>& incidents) {
  std::vector<std::shared_ptr<audit::AuditSink>> sinks;
  auto on_drop = [&log, &incidents](const char* sink) {
    return [report = ReportDrops(&log, sink), &incidents, sink](uint64_t dropped) {
      report(dropped);
      PostAuditIncident(incidents, incident::Severity::kMedium, std::string("sink:") + sink,
                        {{"what", "audit events did not reach the SIEM"}, {"dropped", std::to_string(dropped)}});
    };
  };
  if (config.syslog) {
    audit::SyslogOptions o = *config.syslog;
    o.on_drop = on_drop("syslog");
    sinks.push_back(Check(audit::SyslogSink::Create(std::move(o)), "audit.syslog"));
    spdlog::info("audit events also go to syslog {}:{}", config.syslog->host, config.syslog->port);
  }
  if (config.webhook) {
    audit::WebhookOptions o = *config.webhook;
    o.on_drop = on_drop("webhook");
    sinks.push_back(Check(audit::WebhookSink::Create(std::move(o)), "audit.webhook"));
    // The origin only: a query string may carry a key the log must not repeat.
    spdlog::info("audit events also go to the webhook at {}",
                 Check(audit::ParseWebhookUrl(config.webhook->url)).origin);
  }
  for (const auto& sink : sinks) log.AddSink(sink);
  return sinks;
}

// A summary of what the connection limits did (at most one a minute per
// listener), as an audit event: one per refused connection would let a flood
// of connections become a flood of audit events.
void AuditConnectionLimits(audit::AuditLog& log, const http::ConnectionLimitReport& r) {
  const http::ListenerStats& n = r.since_last;
  const std::string detail =
      "latest source " + r.source + "; since the last report: refused " + std::to_string(n.connections_refused) +
      " (listener cap) and " + std::to_string(n.connections_refused_per_source) + " (source cap), displaced " +
      std::to_string(n.connections_shed) + " (listener cap) and " + std::to_string(n.connections_shed_per_source) +
      " (source cap), timed out " + std::to_string(n.handshake_timeouts) + " (handshake) and " +
      std::to_string(n.first_byte_timeouts) + " (first byte); " + std::to_string(n.connections_active) + " open";
  const audit::Decision decision =
      n.connections_refused + n.connections_refused_per_source > 0 ? audit::Decision::kDeny : audit::Decision::kAllow;
  log.Append(audit::SystemEvent(Clock::Real().Now(), audit::SystemAction::kHttpConnectionLimit,
                                "listener:" + std::string(http::ListenerName(r.listener)), detail, decision));
}

// The connection counters of the listeners, for the monitor (the metrics
// listener's only when it is configured).
std::vector<monitor::ListenerConnections> ConnectionCounters(const http::HttpsServer& server) {
  std::vector<monitor::ListenerConnections> out;
  for (const http::ListenerKind kind :
       {http::ListenerKind::kData, http::ListenerKind::kAdmin, http::ListenerKind::kMetrics}) {
    if (kind == http::ListenerKind::kMetrics && server.BoundPort(kind) == 0) continue;
    const http::ListenerStats s = server.Stats(kind);
    out.push_back({std::string(http::ListenerName(kind)), s.connections_active, s.connections_accepted,
                   s.connections_refused, s.connections_refused_per_source, s.connections_shed,
                   s.connections_shed_per_source, s.handshake_timeouts, s.first_byte_timeouts});
  }
  return out;
}

// Whether two listen addresses would bind the same port: the same host, or
// either the wildcard address. Port 0 (any free port) never clashes.
bool SameEndpoint(const std::string& a, const std::string& b) {
  const auto x = http::ParseHostPort(a), y = http::ParseHostPort(b);
  if (!x.ok() || !y.ok() || x->port == 0 || x->port != y->port) return false;
  const auto wildcard = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
  return x->host == y->host || wildcard(x->host) || wildcard(y->host);
}

// The dedicated metrics listener ([metrics] listen): the server's certificate,
// and mutual TLS required with [metrics] client_ca (the [tls] client_ca of the
// other listeners does not apply). A clash with another listener or a failed
// bind stops the start with one line naming the key.
http::TlsFiles MetricsTls(const Config& config, http::TlsFiles tls) {
  tls.client_ca.reset();
  tls.require_client_cert = false;
  if (!config.metrics_client_ca.empty()) {
    tls.client_ca = config.metrics_client_ca;
    tls.require_client_cert = true;
  }
  return tls;
}

void AddMetricsListener(http::HttpsServer& server, const Config& config, const http::TlsFiles& tls,
                        http::Dispatcher* plane) {
  for (const auto& [key, other] : {std::pair<const char*, const std::string&>{"server.listen", config.listen},
                                   {"server.admin_listen", config.admin_listen}}) {
    if (SameEndpoint(config.metrics_listen, other)) {
      throw CommandError("metrics.listen: " + config.metrics_listen + " clashes with " + key + " " + other);
    }
  }
  Check(server.AddListener(http::ListenerKind::kMetrics, config.metrics_listen, MetricsTls(config, tls),
                           config.http_limits, plane),
        "metrics.listen " + config.metrics_listen);
  spdlog::info("serving GET /metrics without a token on https://{} ({})", config.metrics_listen,
               config.metrics_client_ca.empty() ? "no client certificate asked for"
                                                : "client certificates from " + config.metrics_client_ca.string());
}

// What both listeners terminate TLS with.
http::TlsFiles ListenerTls(const Config& config) {
  http::TlsFiles tls{config.Resolve(config.tls_cert), config.Resolve(config.tls_key)};
  if (!config.tls_ca.empty()) tls.server_ca = config.tls_ca;
  if (!config.tls_client_ca.empty()) {
    tls.client_ca = config.tls_client_ca;
    tls.require_client_cert = config.require_client_cert;
  }
  return tls;
}

// Every listener's TLS files under `config` (a listener the server does not
// have is skipped by ReloadTls).
std::vector<std::pair<http::ListenerKind, http::TlsFiles>> AllListenerTls(const Config& config) {
  const http::TlsFiles tls = ListenerTls(config);
  return {{http::ListenerKind::kData, tls},
          {http::ListenerKind::kAdmin, tls},
          {http::ListenerKind::kMetrics, MetricsTls(config, tls)}};
}

// notAfter of the server certificate, for aegis_tls_cert_expiry_seconds.
std::optional<std::chrono::system_clock::time_point> CertificateNotAfter(const std::filesystem::path& cert) {
  auto pem = ReadFile(cert);
  auto seconds = pem.ok() ? crypto::SecondsUntilExpiry(*pem) : StatusOr<long long>(pem.status());
  if (!seconds.ok()) {
    spdlog::warn("certificate expiry not exported: {}", seconds.status().message());
    return std::nullopt;
  }
  return Clock::Real().Now() + std::chrono::seconds(*seconds);
}

// aegis_tls_cert_expiry_seconds: the certificate's notAfter, replaced by a reload.
class CertificateExpiry {
 public:
  void Set(std::optional<std::chrono::system_clock::time_point> not_after) {
    std::lock_guard lock(mu_);
    not_after_ = not_after;
  }
  std::optional<std::chrono::system_clock::time_point> Get() const {
    std::lock_guard lock(mu_);
    return not_after_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<std::chrono::system_clock::time_point> not_after_;
};

// The last configuration load or reload, for the metrics (the start is one).
class ReloadState {
 public:
  void Set(bool success) {
    std::lock_guard lock(mu_);
    last_ = {success, Clock::Real().Now()};
  }
  monitor::ConfigReload Get() const {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  mutable std::mutex mu_;
  monitor::ConfigReload last_{true, Clock::Real().Now()};
};

// SIGHUP: reloads, then says what happened in the log, the audit log and the
// metrics. A refused reload leaves the server as it was.
void Reload(internal::Reloader& reloader, audit::AuditLog& audit_log, ReloadState& state, CertificateExpiry& expiry) {
  log::Info({}, "received SIGHUP, reloading aegis.toml and the TLS files");
  const internal::ReloadResult result = reloader.Reload();
  state.Set(result.applied);
  if (result.applied) {
    expiry.Set(CertificateNotAfter(result.tls_cert));
    log::Info({}, "configuration reloaded: {}", result.detail);
    if (!result.restart_needed.empty()) {
      std::string keys;
      for (const std::string& k : result.restart_needed) keys += (keys.empty() ? "" : ", ") + k;
      log::Warn({}, "aegis.toml changed where a reload does not apply; restart to apply: {}", keys);
    }
  } else {
    log::Error({}, "configuration reload refused: {}", result.detail);
  }
  audit_log.Append(audit::SystemEvent(Clock::Real().Now(), audit::SystemAction::kConfigReload, "config:aegis.toml",
                                      result.detail,
                                      result.applied ? audit::Decision::kAllow : audit::Decision::kDeny));
}

// The screening settings of every [models."NAME"] table.
std::map<std::string, guard::ScreeningSettings, std::less<>> ScreeningSettingsByModel(const api::ApiLimits& limits) {
  std::map<std::string, guard::ScreeningSettings, std::less<>> out;
  for (const auto& [name, settings] : limits.models) out.emplace(name, settings.screening);
  return out;
}

// The stored baselines, each checked field by field: one that fails is not
// used (its version is served unscreened) and said loudly.
void LoadBaselines(store::MetadataStore& store, guard::Screening& screening) {
  auto records = store.ListBaselines();
  if (!records.ok()) {
    spdlog::error("input baselines not loaded: {}", records.status().message());
    return;
  }
  for (const auto& record : *records) {
    auto baseline = guard::ParseBaseline(record.data);
    if (!baseline.ok()) {
      spdlog::error("the baseline of model '{}' version '{}' is not used: {}", record.name, record.version,
                    baseline.status().message());
      continue;
    }
    screening.Install(record.name, record.version, std::move(*baseline));
  }
  if (!records->empty()) spdlog::info("input screening: {} baseline(s) loaded", records->size());
}

// The incidents, with the playbooks' actions wired to what they act on.
StatusOr<std::unique_ptr<incident::Incidents>> StartIncidents(const Config& config, store::MetadataStore* store,
                                                              audit::AuditLog& log, incident::Suspensions& suspensions,
                                                              guard::RequestGuard& request_guard,
                                                              LateBound<registry::Registry>& registry,
                                                              audit::WebhookSink* alerts) {
  incident::IncidentsOptions options;
  options.playbooks = config.playbooks;
  incident::Responders& r = options.responders;
  r.suspend = [&suspensions](const std::string& principal, const std::string& reason) {
    return suspensions.Suspend(principal, reason, "system");
  };
  r.throttle = [&request_guard, limit = config.throttle_limit](const std::string& principal,
                                                               const std::string& holder) {
    request_guard.Throttle(principal, limit, holder);
    return Status::Ok();
  };
  r.unthrottle = [&request_guard](const std::string& principal, const std::string& holder) {
    request_guard.Unthrottle(principal, holder);
  };
  r.throttle_rate = guard::FormatRate(config.throttle_limit.per_second) + " (a burst of " +
                    std::to_string(config.throttle_limit.burst) + ")";
  r.withdraw = [&registry](const std::string& model, const std::string& version, const std::string& holder) {
    return registry.With([&](registry::Registry& reg) { return reg.Withdraw(model, version, holder); },
                         Status::Unavailable("the registry is not running"));
  };
  r.reinstate = [&registry](const std::string& model, const std::string& version, const std::string& holder) {
    registry.With([&](registry::Registry& reg) { return reg.Reinstate(model, version, holder); }, false);
  };
  if (alerts != nullptr) {
    r.alert = [alerts](const std::string& alert_json) {
      alerts->Offer(alert_json);
      return Status::Ok();
    };
  }
  return incident::Incidents::Create(store, &log, Clock::Real(), std::move(options));
}

// The versions served at the last start, and why it matters: readiness waits
// for them (besides [server] required_models), so a replica that can no longer
// load what it served before is not sent traffic. One "name/version" a line.
std::filesystem::path LastServingPath(const Config& config) { return config.data_dir / "db" / "last-serving"; }

std::vector<std::string> RequiredModels(const Config& config) {
  std::vector<std::string> required = config.required_models;
  auto last = ReadFile(LastServingPath(config), 1 << 20);
  if (!last.ok()) return required;  // first start, or not written yet
  std::istringstream lines(*last);
  for (std::string line; std::getline(lines, line);) {
    const size_t slash = line.find('/');
    if (slash != std::string::npos && registry::IsValidModelName(line.substr(0, slash)) &&
        registry::IsValidVersion(line.substr(slash + 1))) {
      required.push_back(line);
    }
  }
  return required;
}

// After the start-up loading: what serves now, plus what was required and
// still failed (a version that fails again stays required until it is
// removed, which drops it here).
void WriteLastServing(const Config& config, const registry::Registry& registry,
                      const std::vector<std::string>& required) {
  std::set<std::string> lines;
  for (const auto& model : registry.Served()) lines.insert(model->record.name + "/" + model->record.version);
  if (auto recorded = registry.List(); recorded.ok()) {
    std::set<std::string> exists;
    for (const auto& r : *recorded) exists.insert(r.name + "/" + r.version);
    for (const std::string& entry : required) {
      if (entry.find('/') != std::string::npos && exists.contains(entry)) lines.insert(entry);
    }
  }
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  if (Status written = WriteFileAtomic(LastServingPath(config), text, 0600); !written.ok()) {
    spdlog::warn("cannot record the versions served at this start: {}", written.message());
  }
}

void RunServe(const ServeOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  // Block the shutdown signals in every thread; one thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // a reload (see internal::Reloader)
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Lines written before the configuration is read (and the one that says
  // why it cannot be) already have the server's format.
  log::Configure(log::Level::kInfo, log::Format::kText);
  Config config = Check(LoadConfig(o.data_dir));
  if (!o.listen.empty()) config.listen = o.listen;
  if (!o.admin_listen.empty()) config.admin_listen = o.admin_listen;
  if (!o.log_level.empty()) config.logging.level = *log::ParseLevel(o.log_level);  // checked by CLI11
  log::Configure(config.logging.level, config.logging.format);
  // What the restart-only keys are compared with at a reload.
  auto started_text = ReadFile(config.data_dir / "aegis.toml", 1 << 20);
  const std::string started_config = started_text.ok() ? std::move(started_text).value() : std::string();
  // Lines are written by its own thread; declared before everything that
  // writes to it, so destroyed (and flushed) after.
  AccessLog access_log;
  access_log.Use(Check(AccessLog::Open(config.logging.access_log), "logging.access_log"));
  if (access_log.enabled()) log::Info({}, "access log: {}", config.logging.access_log);
  // Checked before the KEK is opened and the models loaded: a certificate that
  // does not chain to [tls] ca, or a key that does not match, fails at once.
  const http::TlsFiles tls = ListenerTls(config);
  Check(http::CheckTlsFiles(tls), "tls");
  Check(CheckOnnxRuntime(config));

  auto kek = OpenKek(config.data_dir / "keys");
  auto store = OpenConfiguredStore(config);
  // The incidents are made after the log and the sinks that report to them, and
  // destroyed before: those reach them through this.
  LateBound<incident::Incidents> late_incidents;
  audit::AuditLogOptions audit_options = AuditOptions(config.data_dir, *kek);
  audit_options.replica_id = ReplicaIdForServe(audit_options.dir, !config.store_url.empty());
  audit_options.segment_max_bytes = config.audit_segment_max_bytes;
  audit_options.verify_interval = config.audit_verify_interval;
  if (config.audit_summarize_inferences) audit_options.summarized_action = policy::ActionName(policy::Action::kInfer);
  audit_options.retention = std::chrono::days(config.audit_retention_days);
  audit_options.archive_dir = config.audit_archive_dir;
  audit_options.archive_after = std::chrono::days(config.audit_archive_after_days);
  audit_options.on_verify_failure = [&late_incidents](const std::string& detail) {
    PostAuditIncident(late_incidents, incident::Severity::kCritical, "audit log",
                      {{"what", "the audit log failed its background verification"}, {"detail", detail}});
  };
  auto audit_log = Check(audit::AuditLog::Open(audit_options), "opening the audit log");
  // Declared after the log, so destroyed (and stopped) before it on every path.
  struct SinksStopper {
    std::vector<std::shared_ptr<audit::AuditSink>> sinks;
    ~SinksStopper() {
      for (auto& sink : sinks) sink->Stop();
    }
  } sinks{StartSinks(config, *audit_log, late_incidents)};
  std::shared_ptr<audit::WebhookSink> alerts;
  if (config.alerts) {
    audit::WebhookOptions o = *config.alerts;
    o.on_drop = [log = audit_log.get(), &late_incidents](uint64_t dropped) {
      ReportDrops(log, "alerts")(dropped);
      PostAuditIncident(late_incidents, incident::Severity::kMedium, "sink:alerts",
                        {{"what", "incident alerts were dropped"}, {"dropped", std::to_string(dropped)}});
    };
    alerts = Check(audit::WebhookSink::Create(std::move(o)), "guard.alerts");
    sinks.sinks.push_back(alerts);  // stopped with the audit sinks, after the incidents
    spdlog::info("incident alerts go to {}", Check(audit::ParseWebhookUrl(config.alerts->url)).origin);
  }
  // The guard stage's limits; incident response throttles through it.
  guard::RequestGuard request_guard(config.guard);
  // Made after the incidents, destroyed before them: withdrawals reach it
  // through this.
  LateBound<registry::Registry> late_registry;
  // Incidents append to the log and write the store: declared after both, so
  // destroyed (their queue raised) before them.
  auto suspensions = Check(incident::Suspensions::Load(store.get(), Clock::Real()), "loading suspensions");
  auto incidents =
      Check(StartIncidents(config, store.get(), *audit_log, *suspensions, request_guard, late_registry, alerts.get()),
            "loading incidents");
  late_incidents.Bind(incidents.get());
  Unbind<incident::Incidents> unbind_incidents{late_incidents};
  auto tokens = Check(auth::TokenAuthenticator::Create(store.get(), Clock::Real()));
  auth::UserDirectoryOptions user_options;
  user_options.on_lockout = [inc = incidents.get()](const std::string& name, const std::string& source) {
    inc->Post({incident::IncidentKind::kBruteForce,
               incident::Severity::kHigh,
               "user:" + name,
               "",
               "",
               source,
               {{"what", "the name was locked after repeated failed logins"}}});
  };
  auto users = Check(auth::UserDirectory::Create(store.get(), kek.get(), Clock::Real(), user_options));
  JwksSource jwks(config);
  auth::Authenticator authenticator(tokens.get(), users.get(), jwks.verifier(), config.client_identities,
                                    Clock::Real());

  registry::RegistryOptions registry_options;
  registry_options.blobs_dir = config.data_dir / "blobs";
  registry_options.runtime = config.runtime;
  auto response_loop = std::make_shared<LateEventLoop>();
  registry_options.runtime.response_loop = response_loop;
  registry_options.models = config.models;
  registry_options.require_signature = config.require_signature;
  registry_options.required_models = RequiredModels(config);
  const std::vector<std::string> registry_options_required = registry_options.required_models;
  // Set once the monitor exists (events only come once models load); read from
  // the runtime's driver threads.
  std::atomic<monitor::Monitor*> runtime_monitor{nullptr};
  registry_options.on_runtime_event = [log = audit_log.get(), &runtime_monitor, inc = incidents.get()](
                                          const std::string& name, const std::string& version,
                                          const runtime::RuntimeEvent& event) {
    AuditRuntimeEvent(*log, name, version, event);
    if (monitor::Monitor* m = runtime_monitor.load()) m->RuntimeEvent(event.kind);
    if (event.kind == runtime::RuntimeEvent::Kind::kWithdrawn) {
      log::Error({.model = name, .version = version}, "model {} version {} withdrawn: {}", name, version, event.detail);
      inc->Post({incident::IncidentKind::kEngineCrash,
                 incident::Severity::kHigh,
                 "",
                 name,
                 version,
                 "",
                 {{"detail", event.detail}}});
    }
  };
  registry_options.on_load_failure = [inc = incidents.get()](const std::string& name, const std::string& version,
                                                             const Status& why) {
    if (!registry::IsIntegrityFailure(why) && why.code() != StatusCode::kDataLoss) return;
    inc->Post({incident::IncidentKind::kIntegrity,
               incident::Severity::kCritical,
               "",
               name,
               version,
               "",
               {{"detail", why.message()}}});
  };
  registry::Registry registry(std::move(registry_options), store.get(), kek.get(), Clock::Real());
  late_registry.Bind(&registry);
  Unbind<registry::Registry> unbind_registry{late_registry};
  if (!config.require_signature) spdlog::warn("registry.require_signature is off: unsigned models will be served");
  if (config.runtime.isolation == runtime::Isolation::kNone) {
    spdlog::warn(
        "runtime.isolation is \"none\": model code runs inside the server, with its keys; only for trusted models");
  }
  guard::Screening screening(ScreeningSettingsByModel(config.api_limits));
  LoadBaselines(*store, screening);
  // Throttles and withdrawals live in memory: hold again what unresolved
  // incidents hold, before the first request.
  incidents->ReapplyContainment();

  // Measured before the models load (the listeners open first), so the engine
  // workers' memory is still counted as available; limits.body_memory_bytes
  // sets the figure exactly.
  const auto available_memory = guard::AvailableMemory();
  guard::MemoryBudget body_budget(guard::BodyBudgetOptions(config.api_limits.body_memory_bytes,
                                                           config.api_limits.body_memory_principal_percent,
                                                           config.api_limits.max_body_bytes, available_memory));
  const guard::MemoryBudgetStats budget = body_budget.Stats();
  spdlog::info("request bodies may hold {} MiB in memory, {} MiB per principal ({})", budget.total_bytes >> 20,
               budget.per_principal_bytes >> 20,
               config.api_limits.body_memory_bytes != 0 ? std::string("limits.body_memory_bytes")
               : available_memory ? "a quarter of the " + std::to_string(*available_memory >> 20) + " MiB available"
                                  : std::string("the machine's memory is unknown: the fallback"));

  // Extraction: PRADA per principal and model; its alarms raise incidents.
  guard::ExtractionDetector extraction(config.extraction);
  const guard::ExtractionSettings& ex = config.extraction.defaults;
  spdlog::info(
      "extraction detection: {} (W < {} over the last {} distances, from {}; {} rows a day per model; {} "
      "models override)",
      ex.enabled ? "on" : "off", ex.threshold, ex.window, ex.min_queries,
      ex.max_rows_per_day == 0 ? std::string("no limit of") : std::to_string(ex.max_rows_per_day),
      config.extraction.models.size());

  monitor::MonitorOptions monitor_options;
  monitor_options.body_budget = &body_budget;
  monitor_options.extraction = &extraction;
  monitor_options.registry = &registry;
  monitor_options.users = users.get();
  monitor_options.tokens = tokens.get();
  monitor_options.incidents = incidents.get();
  monitor_options.audit = audit_log.get();
  CertificateExpiry cert_expiry;
  cert_expiry.Set(CertificateNotAfter(config.Resolve(config.tls_cert)));
  monitor_options.tls_not_after = [&cert_expiry] { return cert_expiry.Get(); };
  monitor_options.access_log = &access_log;
  ReloadState reload_state;
  monitor_options.last_reload = [&reload_state] { return reload_state.Get(); };
  monitor_options.kek_files = {config.data_dir / "keys" / "kek.key", config.data_dir / "keys" / "kek.sealed"};
  monitor_options.isolation = config.runtime.isolation;
  monitor_options.screening = &screening;
  // The server is built after the monitor (it needs the monitor's callbacks);
  // scrapes only come through it, once it exists.
  std::atomic<const http::HttpsServer*> http_server{nullptr};
  monitor_options.connections = [&http_server] {
    const http::HttpsServer* s = http_server.load();
    return s == nullptr ? std::vector<monitor::ListenerConnections>{} : ConnectionCounters(*s);
  };
  // Set once by the loader thread below.
  std::atomic<double> startup_seconds{-1};
  monitor_options.startup_seconds = [&startup_seconds]() -> std::optional<double> {
    const double seconds = startup_seconds.load();
    return seconds < 0 ? std::nullopt : std::optional<double>(seconds);
  };
  monitor::Monitor monitor(monitor_options);
  runtime_monitor = &monitor;
  monitor.Start();
  config.server.on_handshake = [&monitor](http::ListenerKind, std::chrono::nanoseconds handshake) {
    monitor.ObserveStage(monitor::Stage::kTls, handshake);
  };
  config.server.on_drain_timeout = [&registry] { registry.ShutdownRuntime(); };
  config.server.on_connection_limit = [log = audit_log.get()](const http::ConnectionLimitReport& report) {
    AuditConnectionLimits(*log, report);
  };

  std::atomic<bool> draining{false};
  api::Services services;
  services.registry = &registry;
  services.authenticator = &authenticator;
  services.tokens = tokens.get();
  services.users = users.get();
  services.audit = audit_log.get();
  services.monitor = &monitor;
  services.draining = &draining;
  services.limits = config.api_limits;
  services.body_budget = &body_budget;
  services.guard = &request_guard;
  services.incidents = incidents.get();
  services.suspensions = suspensions.get();
  guard::RefusalTracker refusals;  // rate_abuse: 100 refusals of one principal within a minute
  services.refusals = &refusals;
  services.extraction = &extraction;
  services.screening = &screening;
  services.store = store.get();
  services.access_log = &access_log;
  // Checked by LoadConfig already; the header is believed only from these peers.
  const http::TrustedProxies trusted_proxies = Check(http::TrustedProxies::Parse(config.trusted_proxies), "server");
  services.trusted_proxies = &trusted_proxies;
  if (!config.trusted_proxies.empty()) {
    std::string blocks;
    for (const auto& b : config.trusted_proxies) blocks += (blocks.empty() ? "" : ", ") + b;
    spdlog::info("X-Forwarded-For names the client when the peer is in: {}", blocks);
  }
  spdlog::info("guard: {} per principal (burst {}), quota {}, {} in flight; {} failed authentications per address",
               guard::FormatRate(config.guard.principal.per_second), config.guard.principal.burst,
               config.guard.principal.quota_per_day == 0
                   ? std::string("none")
                   : std::to_string(config.guard.principal.quota_per_day) + "/day",
               config.guard.concurrency == 0 ? std::string("unlimited") : std::to_string(config.guard.concurrency),
               guard::FormatRate(config.guard.auth_failures.per_second));
  // Checked by LoadConfig already.
  api::DataPlane data_plane(services, {.public_model_ready = config.public_model_ready,
                                       .cors = Check(api::CorsPolicy::Parse(config.cors_origins), "server")});
  if (config.public_model_ready) spdlog::info("per-model readiness answers without a token (public_model_ready)");
  if (!config.cors_origins.empty()) {
    std::string origins;
    for (const auto& o : config.cors_origins) origins += (origins.empty() ? "" : ", ") + o;
    spdlog::info("the data plane answers CORS for: {}", origins);
  }
  api::ControlPlane control_plane(services);

  http::HttpsServer server(config.server);
  http_server = &server;
  response_loop->target().Bind(&server.event_loop());
  Unbind<EventLoop> unbind_response_loop{response_loop->target()};
  Check(server.AddListener(http::ListenerKind::kData, config.listen, tls, config.http_limits, &data_plane),
        "data plane " + config.listen);
  Check(server.AddListener(http::ListenerKind::kAdmin, config.admin_listen, tls, config.http_limits, &control_plane),
        "control plane " + config.admin_listen);
  api::MetricsPlane metrics_plane(services);
  if (!config.metrics_listen.empty()) AddMetricsListener(server, config, tls, &metrics_plane);

  internal::ReloadHooks reload_hooks;
  reload_hooks.reload_tls = [&server, running_metrics_ca = config.metrics_client_ca](const Config& next) {
    // metrics.listen is restart-only: a file that drops it must not drop the
    // running metrics listener's client certificate requirement with it.
    Config effective = next;
    if (next.metrics_listen.empty()) effective.metrics_client_ca = running_metrics_ca;
    return server.ReloadTls(AllListenerTls(effective));
  };
  reload_hooks.access_log = &access_log;
  if (!o.log_level.empty()) reload_hooks.level_override = config.logging.level;
  internal::Reloader reloader(config.data_dir, started_config, std::move(reload_hooks));
  // The signals arrive here, on a thread of its own (sigwait: nothing runs in
  // a signal handler), so a reload may take the time it needs.
  std::thread signal_waiter([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        if (!draining.load()) Reload(reloader, *audit_log, reload_state, cert_expiry);
        continue;
      }
      if (draining.exchange(true)) return;  // woken by our own shutdown below
      spdlog::info("received {}, draining in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server.Stop();
      return;
    }
  });

  AuditLifecycle(*audit_log, audit::SystemAction::kServerStart,
                 "data " + config.listen + ", admin " + config.admin_listen);
  spdlog::info("serving data plane on https://{} and control plane on https://{}", config.listen, config.admin_listen);
  jwks.StartRefresh();
  // Servers sharing a PostgreSQL store hear of each other's changes
  // (store::ChangeFeed): tokens, suspensions and what unresolved incidents
  // hold are read again at once, the served models on a thread of their own (a
  // load takes seconds).
  PeriodicThread model_sync(std::chrono::minutes(5), [&registry, &audit_log]() noexcept {
    for (const auto& f : registry.Reconcile().failures) {
      AuditLifecycle(*audit_log, audit::SystemAction::kModelLoadFailed, f.message());
    }
  });
  // Chunks a push left in the database when it crashed before recording its
  // version. A push uploads its chunks, then scans, loads and records the
  // version within minutes; an hour since the last chunk (by the database's
  // clock, which every replica shares) leaves room for a slow push on another
  // replica without ever deleting what it is about to record.
  std::optional<PeriodicThread> artifact_sweep;
  if (store->KeepsArtifacts()) {
    artifact_sweep.emplace(std::chrono::minutes(10), [&store]() noexcept {
      constexpr size_t kSweepBatch = 100;  // artifacts per run: bounded work on a shared database
      const auto swept = store->SweepOrphanedArtifacts(std::chrono::hours(1), kSweepBatch);
      if (!swept.ok()) {
        spdlog::warn("orphaned artifact chunks not swept: {}", swept.status().message());
      } else if (*swept > 0) {
        spdlog::info("swept the chunks of {} artifacts no model version references (pushes that did not finish)",
                     *swept);
      }
    });
  }
  auto feed = Check(store->WatchChanges(std::chrono::seconds(30),
                                        [&tokens, &suspensions, &users, &incidents, &model_sync](uint32_t changed) {
                                          if (changed & store::kTokensChanged) {
                                            const Status reloaded = tokens->Reload();
                                            if (!reloaded.ok()) spdlog::warn("tokens: {}", reloaded.message());
                                          }
                                          if (changed & store::kSuspensionsChanged) {
                                            const Status reloaded = suspensions->Reload();
                                            if (!reloaded.ok()) spdlog::warn("suspensions: {}", reloaded.message());
                                          }
                                          if (changed & store::kSessionsChanged) {
                                            const Status dropped = users->DropEndedSessions();
                                            if (!dropped.ok()) spdlog::warn("sessions: {}", dropped.message());
                                          }
                                          if (changed & store::kIncidentsChanged) incidents->SyncContainment();
                                          if (changed & (store::kModelVersionsChanged | store::kTrustedKeysChanged)) {
                                            model_sync.RunNow();
                                          }
                                        }),
                    "watching the database for other servers' changes");
  // The listeners open before the models load: liveness answers at once,
  // readiness once the loading is done (registry::Registry::Ready), and a
  // version not loaded yet answers 503 "loading".
  struct Loader {
    registry::Registry& registry;
    std::thread thread;
    ~Loader() {
      registry.StopLoading();
      if (thread.joinable()) thread.join();
    }
  } loader{registry, std::thread([&] {
             const auto failures = registry.LoadAll();
             for (const auto& f : failures) {
               AuditLifecycle(*audit_log, audit::SystemAction::kModelLoadFailed, f.message());
             }
             // What other servers changed while the stored versions loaded.
             if (feed) model_sync.RunNow();
             if (draining.load()) return;  // stopped while loading: nothing to record
             WriteLastServing(config, registry, registry_options_required);
             const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
             startup_seconds = seconds;
             if (registry.Ready()) {
               spdlog::info("ready {:.2f} s after start: {} model versions served, {} failed to load", seconds,
                            registry.Served().size(), failures.size());
             } else {
               spdlog::error(
                   "not ready {:.2f} s after start: a required model version failed to load (see above; "
                   "[server] required_models and {})",
                   seconds, LastServingPath(config).string());
             }
           })};
  server.Run();
  registry.StopLoading();
  if (loader.thread.joinable()) loader.thread.join();
  // No I/O thread is left to make a watch. The workers' watches end below, while
  // the server's event loop still exists.
  response_loop->target().Bind(nullptr);
  // No request is left. Stop the engine workers while the monitor and the audit
  // log that their drivers report to are still alive: the monitor is destroyed
  // before the registry, and a driver must never reach it after that.
  registry.ShutdownRuntime();
  jwks.StopRefresh();
  monitor.Stop();
  // Run() also returns if the server stops on its own; release the waiter thread.
  // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread): the waiter blocks SIGTERM in sigwait; it wakes, not dies
  if (!draining.exchange(true)) pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  AuditLifecycle(*audit_log, audit::SystemAction::kServerStop, "");
  Check(audit_log->SignNow(), "flushing and signing the audit log");
  // The sinks get what is durable and signed, then stop; a drop they report while
  // stopping is appended to the local log, so flush and sign once more.
  for (auto& sink : sinks.sinks) {
    sink->Stop();
    const audit::SinkStats st = sink->Stats();
    spdlog::info("audit sink {}: {} delivered, {} dropped, {} failed attempts", sink->name(), st.delivered, st.dropped,
                 st.failures);
  }
  Check(audit_log->SignNow(), "flushing and signing the audit log");
  spdlog::info("stopped");
}

}  // namespace

void RegisterServe(CLI::App& app) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the data plane (KServe v2) and the control plane over HTTPS");
  cmd->add_option("--data-dir", opts->data_dir, "Installation directory made by `aegis init`")->required();
  cmd->add_option("--listen", opts->listen, "Data plane HOST:PORT (default from aegis.toml, 127.0.0.1:8443)");
  cmd->add_option("--admin-listen", opts->admin_listen,
                  "Control plane HOST:PORT (default from aegis.toml, 127.0.0.1:9443)");
  cmd->add_option("--log-level", opts->log_level,
                  "trace, debug, info, warn or error (default from aegis.toml [logging] level, info); "
                  "kept across SIGHUP reloads")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd->footer(
      "Needs AEGIS_PASSPHRASE when the installation was created with one. SIGTERM or SIGINT drain and stop;\n"
      "SIGHUP reloads the TLS files and [logging] (docs/operations.md, \"Reloading the configuration\").\n\n"
      "Examples:\n"
      "  aegis serve --data-dir /srv/aegis\n"
      "  AEGIS_PASSPHRASE=... aegis serve --data-dir /srv/aegis --listen 0.0.0.0:8443 "
      "--admin-listen 127.0.0.1:9443");
  cmd->callback([opts] { RunServe(*opts); });
}

}  // namespace aegis::cli
