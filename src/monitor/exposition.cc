// Monitor::PrometheusText: the request-path counters and the services' state
// as prometheus-cpp MetricFamily values, serialized by its TextSerializer.
#include <sys/stat.h>

#include <algorithm>
#include <span>
#include <sstream>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "aegis/common/version.h"
#include "aegis/monitor/monitor.h"
#include "counters.h"
#include "process_metrics.h"

namespace aegis::monitor {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric Value(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  return m;
}

// A one-sample family.
MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = Family(std::move(name), std::move(help), type);
  f.metric.push_back(Value(type, value));
  return f;
}

// A Prometheus histogram from cumulative-able bucket counts: `bounds` are the
// upper bounds (the last bucket is +Inf), each divided by `unit` for the
// exposition, as is `sum`.
template <size_t N>
ClientMetric BucketMetric(const std::array<int64_t, N>& bounds, std::span<const uint64_t> buckets, double sum,
                          double unit, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < N; ++i) {
    cumulative += buckets[i];
    m.histogram.bucket.push_back({cumulative, static_cast<double>(bounds[i]) / unit});
  }
  // The serializer adds le="+Inf" with the sample count.
  m.histogram.sample_count = cumulative + buckets.back();
  m.histogram.sample_sum = sum / unit;
  return m;
}

ClientMetric Histogram(const internal::HistogramCounts& counts, std::vector<ClientMetric::Label> labels) {
  return BucketMetric(internal::kBucketBoundsNs, counts.buckets, static_cast<double>(counts.sum_ns), 1e9,
                      std::move(labels));
}

// Seconds since the first existing file's last modification.
std::optional<double> AgeOfFirst(const std::vector<std::filesystem::path>& files,
                                 std::chrono::system_clock::time_point now) {
  for (const auto& file : files) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) continue;
    const auto mtime =
        std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    return std::chrono::duration<double>(now - mtime).count();
  }
  return std::nullopt;
}

void AddRequests(const internal::Counters& c, std::vector<MetricFamily>& out) {
  std::vector<const ModelSeries*> all = c.All();
  all.insert(all.begin(), &c.unlabeled);
  MetricFamily requests =
      Family("aegis_requests_total", "Requests answered, by served model version (\"-\" for all else) and HTTP status.",
             MetricType::Counter);
  MetricFamily duration =
      Family("aegis_request_duration_seconds",
             "Time from the request head to the end of the response, by served model version.", MetricType::Histogram);
  for (const ModelSeries* s : all) {
    for (int code = ModelSeries::kMinCode; code <= ModelSeries::kMaxCode; ++code) {
      const uint64_t n = s->by_code[static_cast<size_t>(code - ModelSeries::kMinCode)].load(std::memory_order_relaxed);
      if (n == 0) continue;
      requests.metric.push_back(Value(MetricType::Counter, static_cast<double>(n),
                                      {{"code", std::to_string(code)}, {"model", s->model}, {"version", s->version}}));
    }
    duration.metric.push_back(Histogram(s->latency.Read(), {{"model", s->model}, {"version", s->version}}));
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(duration));
  out.push_back(Single("aegis_requests_in_flight", "Requests being handled now (head read, response not yet written).",
                       MetricType::Gauge,
                       static_cast<double>(std::max<int64_t>(0, c.in_flight.load(std::memory_order_relaxed)))));
  MetricFamily scrapes = Family("aegis_metrics_scrapes_total",
                                "GET /metrics answered, by listener (admin: with a token; metrics: the dedicated "
                                "listener). Counted here instead of one audit event each.",
                                MetricType::Counter);
  for (size_t i = 0; i < kScrapeListenerCount; ++i) {
    scrapes.metric.push_back(Value(MetricType::Counter,
                                   static_cast<double>(c.scrapes[i].load(std::memory_order_relaxed)),
                                   {{"listener", std::string(ScrapeListenerName(static_cast<ScrapeListener>(i)))}}));
  }
  out.push_back(std::move(scrapes));
}

ClientMetric Counts(const internal::CountHistogramCounts& counts, std::vector<ClientMetric::Label> labels) {
  return BucketMetric(internal::kCountBounds, counts.buckets, static_cast<double>(counts.sum), 1, std::move(labels));
}

// What the engines did with the inferences of each served version (labels:
// model/version of the bounded series, a fixed result).
void AddInferences(const internal::Counters& c, std::vector<MetricFamily>& out) {
  MetricFamily inferences = Family("aegis_inferences_total",
                                   "Inferences an engine ran, by model version and result: success, or failure "
                                   "(engine error, crash, deadline, a full or expired queue).",
                                   MetricType::Counter);
  MetricFamily waited =
      Family("aegis_model_queue_wait_seconds",
             "Time an inference waited for a free instance of its model version before it ran.", MetricType::Histogram);
  MetricFamily batches =
      Family("aegis_inference_batch_size", "Requests an engine ran together in one batch, observed once per inference.",
             MetricType::Histogram);
  for (const ModelSeries* s : c.All()) {
    const std::vector<ClientMetric::Label> labels = {{"model", s->model}, {"version", s->version}};
    for (const bool ok : {true, false}) {
      std::vector<ClientMetric::Label> with_result = labels;
      with_result.push_back({"result", ok ? "success" : "failure"});
      const uint64_t n = (ok ? s->inferences_ok : s->inferences_failed).load(std::memory_order_relaxed);
      inferences.metric.push_back(Value(MetricType::Counter, static_cast<double>(n), std::move(with_result)));
    }
    waited.metric.push_back(Histogram(s->queue_wait.Read(), labels));
    batches.metric.push_back(Counts(s->batch_sizes.Read(), labels));
  }
  out.push_back(std::move(inferences));
  out.push_back(std::move(waited));
  out.push_back(std::move(batches));
}

// The process metrics every Prometheus client library exports, under their
// standard names, so that stock dashboards and alerts work unchanged.
void AddProcess(std::vector<MetricFamily>& out) {
  const auto self = internal::ReadSelf();
  if (!self) return;  // no /proc: left out, since zeros would lie
  out.push_back(Single("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                       MetricType::Counter, self->cpu_seconds));
  out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                       self->resident_bytes));
  out.push_back(
      Single("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, self->virtual_bytes));
  out.push_back(Single("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                       MetricType::Gauge, self->start_time_seconds));
  if (self->open_fds) {
    out.push_back(Single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *self->open_fds));
  }
  if (self->max_fds) {
    out.push_back(
        Single("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, *self->max_fds));
  }
}

// Models' load times (served versions) and load failures (by name, bounded
// like the series: at most kMaxModelSeries names).
void AddModelLoads(const registry::Registry& registry,
                   const std::vector<std::shared_ptr<const registry::ServedModel>>& served,
                   std::vector<MetricFamily>& out) {
  MetricFamily load = Family("aegis_model_load_duration_seconds",
                             "How long a served version took to become servable: decryption, integrity checks and "
                             "engine load at start; scan and engine load at push.",
                             MetricType::Gauge);
  for (const auto& m : served) {
    load.metric.push_back(Value(MetricType::Gauge, std::chrono::duration<double>(m->load_time).count(),
                                {{"model", m->record.name}, {"version", m->record.version}}));
  }
  out.push_back(std::move(load));
  MetricFamily failures = Family("aegis_model_load_failures_total",
                                 "Versions of a model that could not be made servable: not served at start (integrity "
                                 "or engine failure) or refused by the engine at push.",
                                 MetricType::Counter);
  size_t names = 0;
  for (const auto& [name, n] : registry.LoadFailures()) {
    if (++names > kMaxModelSeries) break;
    failures.metric.push_back(Value(MetricType::Counter, static_cast<double>(n), {{"model", name}}));
  }
  out.push_back(std::move(failures));
}

void AddSecurityCounters(const internal::Counters& c, std::vector<MetricFamily>& out) {
  MetricFamily stages = Family("aegis_stage_duration_seconds",
                               "Time spent in each stage of a request: tls (handshake, per connection), auth, "
                               "policy, guard (request parsing and input validation), engine, audit.",
                               MetricType::Histogram);
  for (size_t i = 0; i < kStageCount; ++i) {
    stages.metric.push_back(Histogram(c.stages[i].Read(), {{"stage", std::string(StageName(static_cast<Stage>(i)))}}));
  }
  out.push_back(std::move(stages));

  MetricFamily auth =
      Family("aegis_auth_attempts_total",
             "Authentication attempts by the credential kind presented (none: no credential).", MetricType::Counter);
  for (size_t m = 0; m < kAuthMethodCount; ++m) {
    const std::string method(AuthMethodName(static_cast<AuthMethod>(m)));
    for (size_t r = 0; r < 2; ++r) {
      auth.metric.push_back(Value(MetricType::Counter, static_cast<double>(c.auth[m][r].load()),
                                  {{"method", method}, {"result", r == 0 ? "success" : "failure"}}));
    }
  }
  out.push_back(std::move(auth));
  out.push_back(Single("aegis_authz_denied_total", "Requests an authenticated principal was not allowed to make.",
                       MetricType::Counter, static_cast<double>(c.authz_denied.load())));
}

// How model code runs, and what its engine workers did. Labels: the fixed event
// names, and model/version only for versions served now (bounded like the
// request series).
void AddRuntime(const internal::Counters& c, runtime::Isolation isolation,
                const std::vector<std::shared_ptr<const registry::ServedModel>>& served,
                std::vector<MetricFamily>& out) {
  MetricFamily mode = Family("aegis_runtime_isolation",
                             "1 for how model code runs: process (confined engine workers) or none (inside the "
                             "server, with its keys: a security finding).",
                             MetricType::Gauge);
  for (runtime::Isolation i : {runtime::Isolation::kProcess, runtime::Isolation::kNone}) {
    mode.metric.push_back(
        Value(MetricType::Gauge, i == isolation ? 1.0 : 0.0, {{"mode", std::string(runtime::IsolationName(i))}}));
  }
  out.push_back(std::move(mode));
  MetricFamily events = Family("aegis_runtime_events_total",
                               "Engine worker events: crashes, deadline kills, protocol and sandbox violations, "
                               "restarts, withdrawn versions.",
                               MetricType::Counter);
  for (size_t k = 0; k < c.runtime_events.size(); ++k) {
    const auto kind = static_cast<runtime::RuntimeEvent::Kind>(k);
    events.metric.push_back(Value(MetricType::Counter, static_cast<double>(c.runtime_events[k].load()),
                                  {{"event", std::string(runtime::RuntimeEventName(kind))}}));
  }
  out.push_back(std::move(events));
  MetricFamily up =
      Family("aegis_model_workers_up", "Engine instances of a served version that can serve now.", MetricType::Gauge);
  MetricFamily withdrawn =
      Family("aegis_model_withdrawn", "1 when a served version was withdrawn after repeated engine failures.",
             MetricType::Gauge);
  for (const auto& m : served) {
    const runtime::InstanceStats stats = m->instances->Stats();
    const std::vector<ClientMetric::Label> labels = {{"model", m->record.name}, {"version", m->record.version}};
    up.metric.push_back(Value(MetricType::Gauge, static_cast<double>(stats.up), labels));
    withdrawn.metric.push_back(Value(MetricType::Gauge, stats.withdrawn ? 1.0 : 0.0, labels));
  }
  out.push_back(std::move(up));
  out.push_back(std::move(withdrawn));
}

// What the connection limits did, per listener (labels: the listener names
// and fixed reasons).
void AddConnections(const std::vector<ListenerConnections>& listeners, std::vector<MetricFamily>& out) {
  MetricFamily active = Family("aegis_connections_active", "Open connections, per listener.", MetricType::Gauge);
  MetricFamily accepted =
      Family("aegis_connections_accepted_total", "Connections admitted, per listener.", MetricType::Counter);
  MetricFamily refused = Family("aegis_connections_refused_total",
                                "Connections closed at accept because a cap was reached and every connection in its "
                                "scope was in a request: reason listener_cap or source_cap.",
                                MetricType::Counter);
  MetricFamily displaced = Family("aegis_connections_displaced_total",
                                  "Connections closed to make room for a newer one at a cap (the oldest that had not "
                                  "sent a request, else the oldest idle): reason listener_cap or source_cap.",
                                  MetricType::Counter);
  MetricFamily timed_out = Family("aegis_connections_timed_out_total",
                                  "Connections closed by a deadline before their first request: phase handshake "
                                  "(TLS) or first_byte.",
                                  MetricType::Counter);
  auto count = [](MetricFamily& f, uint64_t n, std::vector<ClientMetric::Label> labels) {
    f.metric.push_back(Value(MetricType::Counter, static_cast<double>(n), std::move(labels)));
  };
  for (const ListenerConnections& l : listeners) {
    active.metric.push_back(Value(MetricType::Gauge, l.active, {{"listener", l.listener}}));
    count(accepted, l.accepted, {{"listener", l.listener}});
    count(refused, l.refused_listener_cap, {{"listener", l.listener}, {"reason", "listener_cap"}});
    count(refused, l.refused_source_cap, {{"listener", l.listener}, {"reason", "source_cap"}});
    count(displaced, l.displaced_listener_cap, {{"listener", l.listener}, {"reason", "listener_cap"}});
    count(displaced, l.displaced_source_cap, {{"listener", l.listener}, {"reason", "source_cap"}});
    count(timed_out, l.handshake_timeouts, {{"listener", l.listener}, {"phase", "handshake"}});
    count(timed_out, l.first_byte_timeouts, {{"listener", l.listener}, {"phase", "first_byte"}});
  }
  for (MetricFamily* f : {&active, &accepted, &refused, &displaced, &timed_out}) out.push_back(std::move(*f));
}

// Requests refused by a memory limit: the body budget (in total or for one
// principal) and the per-model response size. Labels are this fixed set.
void AddMemoryLimits(const internal::Counters& c, const guard::MemoryBudget* budget, std::vector<MetricFamily>& out) {
  MetricFamily refusals = Family("aegis_limit_refusals_total",
                                 "Requests refused by a memory limit: body_memory_total and body_memory_principal "
                                 "(503, the request-body budget), response_size (500, over the model's limit).",
                                 MetricType::Counter);
  if (budget != nullptr) {
    const guard::MemoryBudgetStats stats = budget->Stats();
    refusals.metric.push_back(
        Value(MetricType::Counter, static_cast<double>(stats.refused_total), {{"limit", "body_memory_total"}}));
    refusals.metric.push_back(
        Value(MetricType::Counter, static_cast<double>(stats.refused_principal), {{"limit", "body_memory_principal"}}));
    out.push_back(Single("aegis_body_memory_bytes", "Bytes reserved by request bodies held in memory, now.",
                         MetricType::Gauge, static_cast<double>(stats.held_bytes)));
    out.push_back(Single("aegis_body_memory_limit_bytes",
                         "The memory budget for request bodies (limits.body_memory_bytes, or derived at start).",
                         MetricType::Gauge, static_cast<double>(stats.total_bytes)));
  }
  refusals.metric.push_back(
      Value(MetricType::Counter, static_cast<double>(c.responses_too_large.load()), {{"limit", "response_size"}}));
  out.push_back(std::move(refusals));
}

// Requests the guard stage refused with 429, by reason: every reason is
// always present (a fixed label set).
void AddRateLimits(const internal::Counters& c, std::vector<MetricFamily>& out) {
  MetricFamily limited = Family("aegis_rate_limited_total",
                                "Requests refused with 429 by the guard stage: rate and quota (the principal's), "
                                "model_rate (the principal's on one model), concurrency (in flight), "
                                "auth_failures (a source address's failed authentications), throttle (a rate lowered "
                                "by incident response).",
                                MetricType::Counter);
  for (size_t i = 0; i < c.rate_limited.size(); ++i) {
    const std::string_view reason = guard::GuardReasonName(static_cast<guard::GuardReason>(i));
    limited.metric.push_back(
        Value(MetricType::Counter, static_cast<double>(c.rate_limited[i].load()), {{"reason", std::string(reason)}}));
  }
  out.push_back(std::move(limited));
}

// Input screening: flags by model and reason (every reason of a model that
// has a baseline), and the drift of live inputs, the kDriftTopFeatures
// features with the highest PSI per screened version (at most
// kMaxModelSeries versions): bounded label sets whatever clients send.
void AddScreening(const guard::Screening& screening, std::vector<MetricFamily>& out) {
  MetricFamily flagged = Family("aegis_screening_flagged_total",
                                "Inference requests with an input outside the model version's baseline (flagged or "
                                "refused), by model and reason: nonfinite, range, sigma, score, shape.",
                                MetricType::Counter);
  for (const guard::ScreeningCounts& c : screening.Counts()) {
    for (size_t i = 0; i < guard::kScreeningReasonCount; ++i) {
      const std::string_view reason = guard::ScreeningReasonName(static_cast<guard::ScreeningReason>(i));
      flagged.metric.push_back(Value(MetricType::Counter, static_cast<double>(c.flagged[i]),
                                     {{"model", c.model}, {"reason", std::string(reason)}}));
    }
  }
  out.push_back(std::move(flagged));
  MetricFamily drift = Family("aegis_feature_drift",
                              "Population Stability Index of live inputs against the baseline's decile bins over "
                              "the last 1000 screened rows, for the 8 most drifted features per model version.",
                              MetricType::Gauge);
  size_t versions = 0;
  for (const auto& v : screening.Versions()) {
    if (++versions > kMaxModelSeries) break;
    for (const guard::FeatureDrift& d : v->TopDrift()) {
      drift.metric.push_back(Value(MetricType::Gauge, d.psi,
                                   {{"model", v->model()},
                                    {"version", v->version()},
                                    {"input", d.input},
                                    {"feature", std::to_string(d.feature)}}));
    }
  }
  out.push_back(std::move(drift));
}

// Incidents in state "open" (not acknowledged, not resolved) by kind and
// severity: every pair always present (7 x 4 fixed label values).
void AddIncidents(const incident::Incidents& incidents, std::vector<MetricFamily>& out) {
  MetricFamily open = Family("aegis_incidents_open",
                             "Security incidents open now (raised, neither acknowledged nor resolved), by kind and "
                             "severity.",
                             MetricType::Gauge);
  const incident::OpenCounts counts = incidents.CountOpen();
  for (size_t k = 0; k < incident::kIncidentKindCount; ++k) {
    for (size_t v = 0; v < incident::kSeverityCount; ++v) {
      open.metric.push_back(
          Value(MetricType::Gauge, static_cast<double>(counts[k][v]),
                {{"kind", std::string(incident::IncidentKindName(static_cast<incident::IncidentKind>(k)))},
                 {"severity", std::string(incident::SeverityName(static_cast<incident::Severity>(v)))}}));
    }
  }
  out.push_back(std::move(open));

  // The incident-response KPI (docs/threat-detection.md, "Incidents and response").
  const incident::ResponseTimings timings = incidents.Timings();
  const auto histogram = [](const incident::TimingHistogram& t) {
    ClientMetric m;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < incident::TimingHistogram::kBounds.size(); ++i) {
      cumulative += t.buckets[i];
      m.histogram.bucket.push_back({cumulative, incident::TimingHistogram::kBounds[i]});
    }
    m.histogram.sample_count = t.count;
    m.histogram.sample_sum = t.sum;
    return m;
  };
  MetricFamily detect = Family("aegis_incident_detect_seconds",
                               "Time from the first evidence a detector judged (the first query of its window, ...) "
                               "to the incident it raised; 0 for signals that are their own evidence.",
                               MetricType::Histogram);
  detect.metric.push_back(histogram(timings.detect));
  out.push_back(std::move(detect));
  MetricFamily contain = Family("aegis_incident_contain_seconds",
                                "Time from detection to the end of the playbook's containing actions (suspend, "
                                "throttle, withdraw), for incidents whose playbook contains.",
                                MetricType::Histogram);
  contain.metric.push_back(histogram(timings.contain));
  out.push_back(std::move(contain));
}

// The extraction detector: what it tracks and how often it alarmed, by signal
// (a fixed label set).
void AddExtraction(const guard::ExtractionDetector& d, std::vector<MetricFamily>& out) {
  out.push_back(Single("aegis_extraction_tracked", "(principal, model) pairs the extraction detector tracks now.",
                       MetricType::Gauge, static_cast<double>(d.Tracked())));
  out.push_back(Single("aegis_extraction_tracked_bytes", "Memory the extraction detector's tracked pairs hold.",
                       MetricType::Gauge, static_cast<double>(d.TrackedBytes())));
  MetricFamily alarms = Family("aegis_extraction_alarms_total",
                               "Extraction alarms raised: prada (Shapiro-Wilk W of query distances below the "
                               "threshold) and volume (rows a day past the limit).",
                               MetricType::Counter);
  alarms.metric.push_back(Value(MetricType::Counter,
                                static_cast<double>(d.Alarms(guard::ExtractionAlarm::Signal::kDistances)),
                                {{"signal", "prada"}}));
  alarms.metric.push_back(Value(MetricType::Counter,
                                static_cast<double>(d.Alarms(guard::ExtractionAlarm::Signal::kVolume)),
                                {{"signal", "volume"}}));
  out.push_back(std::move(alarms));
}

}  // namespace

std::string Monitor::PrometheusText() const {
  const auto now = options_.clock->Now();
  std::vector<MetricFamily> families;
  // The build's identity as labels of a constant 1 (the Prometheus idiom: join
  // on it, or alert on a version change across a fleet).
  MetricFamily build =
      Family("aegis_build_info", "The release and source revision this server was built from.", MetricType::Gauge);
  build.metric.push_back(
      Value(MetricType::Gauge, 1.0, {{"version", std::string(kVersion)}, {"revision", std::string(kRevision)}}));
  families.push_back(std::move(build));
  AddRequests(*counters_, families);
  AddInferences(*counters_, families);
  AddProcess(families);
  AddSecurityCounters(*counters_, families);
  AddMemoryLimits(*counters_, options_.body_budget, families);
  AddRateLimits(*counters_, families);
  if (options_.extraction != nullptr) AddExtraction(*options_.extraction, families);
  if (options_.screening != nullptr) AddScreening(*options_.screening, families);
  if (options_.registry != nullptr) {
    const registry::IntegrityCounts integrity = options_.registry->Integrity();
    families.push_back(Single("aegis_integrity_failures_total",
                              "Model versions refused at push or not served at load because a signature, digest "
                              "or scan check failed.",
                              MetricType::Counter, static_cast<double>(integrity.failures)));
    families.push_back(Single("aegis_scan_findings_total", "Findings the model scanner reported, over every scan.",
                              MetricType::Counter, static_cast<double>(integrity.scan_findings)));
    families.push_back(Single("aegis_models_loaded", "Model versions being served.", MetricType::Gauge,
                              static_cast<double>(options_.registry->Served().size())));
    families.push_back(Single("aegis_models_ready",
                              "1 once the start-up loading has finished and every required model version is "
                              "served (what /v2/health/ready says, draining aside), else 0.",
                              MetricType::Gauge, options_.registry->Ready() ? 1.0 : 0.0));
    if (options_.startup_seconds) {
      if (const std::optional<double> seconds = options_.startup_seconds()) {
        families.push_back(Single("aegis_startup_seconds",
                                  "Seconds from the start of `aegis serve` until the model versions recorded at "
                                  "start had loaded (or failed to).",
                                  MetricType::Gauge, *seconds));
      }
    }
    const auto served = options_.registry->Served();
    AddRuntime(*counters_, options_.isolation, served, families);
    AddModelLoads(*options_.registry, served, families);
  }
  if (options_.incidents != nullptr) {
    AddIncidents(*options_.incidents, families);
  } else if (options_.users != nullptr) {
    // Left out when the accounts cannot be read: a missing series is visible, a 0 would lie.
    if (auto incidents = options_.users->OpenIncidents(); incidents.ok()) {
      families.push_back(Single("aegis_incidents_open",
                                "Accounts locked out plus client addresses throttled for failed logins, now.",
                                MetricType::Gauge, static_cast<double>(incidents->size())));
    }
  }
  if (options_.audit != nullptr) {
    const audit::AuditStats stats = options_.audit->Stats();
    families.push_back(Single("aegis_audit_events_total", "Audit events accepted since the server started.",
                              MetricType::Counter, static_cast<double>(stats.events_appended)));
    families.push_back(Single("aegis_audit_events_summarized_total",
                              "Successful inferences counted into infer.summary events since the server started "
                              "([audit] inference_events = \"summary\"); 0 otherwise.",
                              MetricType::Counter, static_cast<double>(stats.events_summarized)));
    // The server's own archiving ([audit] archive_dir); all 0 when it is off.
    families.push_back(Single("aegis_audit_archive_runs_total",
                              "Runs of the server's own archiving of sealed audit segments ([audit] archive_dir).",
                              MetricType::Counter, static_cast<double>(stats.archive_runs)));
    families.push_back(Single("aegis_audit_archive_failures_total",
                              "Runs of the server's own archiving that failed (the live log is kept; retried).",
                              MetricType::Counter, static_cast<double>(stats.archive_failures)));
    families.push_back(Single("aegis_audit_archived_segments_total",
                              "Sealed audit segments the server archived into [audit] archive_dir.",
                              MetricType::Counter, static_cast<double>(stats.archived_segments)));
    families.push_back(Single("aegis_audit_archived_events_total",
                              "Audit events the server archived into [audit] archive_dir.", MetricType::Counter,
                              static_cast<double>(stats.archived_events)));
    families.push_back(Single("aegis_audit_tree_size", "Events in the audit log's Merkle tree.", MetricType::Gauge,
                              static_cast<double>(stats.tree_size)));
    families.push_back(Single("aegis_audit_signed_tree_size", "Events covered by the newest signed tree head.",
                              MetricType::Gauge,
                              static_cast<double>(stats.last_head ? stats.last_head->tree_size : 0)));
    families.push_back(Single("aegis_audit_verified",
                              "1 when the latest full verification of the audit log on disk passed, else 0.",
                              MetricType::Gauge, stats.verified_ok ? 1.0 : 0.0));
    {
      // Sink names are the fixed set the configuration allows ("syslog", "webhook").
      // The families are exported without samples when no sink is configured, so
      // that alerting rules naming them load against every server.
      MetricFamily delivered = Family("aegis_audit_sink_delivered_total",
                                      "Audit events and tree heads a SIEM sink delivered.", MetricType::Counter);
      MetricFamily dropped =
          Family("aegis_audit_sink_dropped_total",
                 "Audit events and tree heads a SIEM sink dropped (queue full or refused).", MetricType::Counter);
      MetricFamily failures =
          Family("aegis_audit_sink_failures_total", "Failed delivery attempts of a SIEM sink.", MetricType::Counter);
      for (const auto& [name, sink] : stats.sinks) {
        delivered.metric.push_back(Value(MetricType::Counter, static_cast<double>(sink.delivered), {{"sink", name}}));
        dropped.metric.push_back(Value(MetricType::Counter, static_cast<double>(sink.dropped), {{"sink", name}}));
        failures.metric.push_back(Value(MetricType::Counter, static_cast<double>(sink.failures), {{"sink", name}}));
      }
      families.push_back(std::move(delivered));
      families.push_back(std::move(dropped));
      families.push_back(std::move(failures));
    }
  }
  if (options_.connections) AddConnections(options_.connections(), families);
  if (options_.tls_not_after) {
    if (const auto not_after = options_.tls_not_after()) {
      families.push_back(Single("aegis_tls_cert_expiry_seconds",
                                "Seconds until the server certificate expires (negative once expired).",
                                MetricType::Gauge, std::chrono::duration<double>(*not_after - now).count()));
    }
  }
  // Exported whether or not the access log is on, so that a rule on drops
  // loads against every server.
  families.push_back(Single("aegis_access_log_lines_total", "Lines written to the access log ([logging] access_log).",
                            MetricType::Counter,
                            options_.access_log != nullptr ? static_cast<double>(options_.access_log->written()) : 0));
  families.push_back(Single("aegis_access_log_dropped_total",
                            "Access log lines dropped: its queue was full (the disk could not keep up) or the "
                            "write failed.",
                            MetricType::Counter,
                            options_.access_log != nullptr ? static_cast<double>(options_.access_log->dropped()) : 0));
  if (options_.last_reload) {
    const ConfigReload reload = options_.last_reload();
    families.push_back(Single("aegis_config_last_reload_success",
                              "1 if the last configuration reload (SIGHUP; the start counts as one) was applied, 0 "
                              "if it was refused and the previous configuration kept.",
                              MetricType::Gauge, reload.success ? 1.0 : 0.0));
    families.push_back(Single("aegis_config_last_reload_timestamp_seconds",
                              "Unix time of the last configuration reload attempt (or of the start).",
                              MetricType::Gauge,
                              std::chrono::duration<double>(reload.time.time_since_epoch()).count()));
  }
  if (auto age = AgeOfFirst(options_.kek_files, now)) {
    families.push_back(Single("aegis_kek_age_seconds", "Seconds since the key-encryption key file was written.",
                              MetricType::Gauge, *age));
  }
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  return text.str();
}

}  // namespace aegis::monitor
