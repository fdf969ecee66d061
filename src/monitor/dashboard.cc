// Monitor::DashboardJson: GET /v1/dashboard's document (the contract is in
// docs/operations.md): the timeline, the served models, per-stage latency,
// open incidents, the security sections (dashboard_sections.h), the audit
// log's head and the totals.
#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "aegis/crypto/encoding.h"
#include "aegis/monitor/monitor.h"
#include "counters.h"
#include "dashboard_sections.h"
#include "denial_log.h"
#include "timeline.h"

namespace aegis::monitor {
namespace {

using internal::FormatMillis;
using internal::Json;

constexpr size_t kMaxIncidentItems = 100;  // `open` still counts them all

double Millis(double ns) { return ns / 1e6; }

Json Stages(const internal::Counters& c) {
  Json out = Json::array();
  for (size_t i = 0; i < kStageCount; ++i) {
    const internal::HistogramCounts h = c.stages[i].Read();
    out.push_back({{"stage", std::string(StageName(static_cast<Stage>(i)))},
                   {"count", h.Count()},
                   {"p50_ms", Millis(h.QuantileNs(0.50))},
                   {"p95_ms", Millis(h.QuantileNs(0.95))}});
  }
  return out;
}

// The unresolved incidents (open and acknowledged), newest activity first, each
// with its timeline: first and last seen, and the actions taken with their times.
Json Incidents(const incident::Incidents* incidents) {
  Json items = Json::array();
  uint64_t open = 0;
  for (const auto& by_severity : incidents->CountOpen()) {
    for (const uint64_t n : by_severity) open += n;
  }
  std::vector<store::IncidentRecord> unresolved;
  for (const auto state : {incident::IncidentState::kOpen, incident::IncidentState::kAcknowledged}) {
    auto listed = incidents->List(state, kMaxIncidentItems);
    if (!listed.ok()) continue;  // a read error leaves the list short; `open` still counts
    for (auto& r : *listed) unresolved.push_back(std::move(r));
  }
  // RFC 3339 UTC times of one format: text order is time order.
  std::sort(unresolved.begin(), unresolved.end(),
            [](const auto& a, const auto& b) { return a.last_seen > b.last_seen; });
  if (unresolved.size() > kMaxIncidentItems) unresolved.resize(kMaxIncidentItems);
  for (const auto& r : unresolved) {
    Json actions = Json::array();
    for (const auto& a : r.actions) actions.push_back({{"action", a.action}, {"at", a.at}, {"outcome", a.outcome}});
    std::string subject = r.principal;
    if (subject.empty() && !r.model.empty()) subject = "model:" + r.model + (r.version.empty() ? "" : "/" + r.version);
    if (subject.empty()) subject = r.source;
    items.push_back({{"id", r.id},
                     {"kind", r.kind},
                     {"severity", r.severity},
                     {"state", r.state},
                     {"subject", subject},
                     {"first_seen", r.first_seen},
                     {"last_seen", r.last_seen},
                     {"count", r.count},
                     {"actions", std::move(actions)}});
  }
  return {{"open", open}, {"items", std::move(items)}};
}

// Without the incidents (a monitor built for tests): the login lockouts.
Json LoginIncidents(const auth::UserDirectory* users) {
  Json items = Json::array();
  size_t open = 0;
  if (users != nullptr) {
    if (auto incidents = users->OpenIncidents(); incidents.ok()) {
      open = incidents->size();
      for (const auto& i : *incidents) {
        if (items.size() == kMaxIncidentItems) break;
        const std::string since = FormatMillis(i.since);
        items.push_back(
            {{"kind", i.kind == auth::LoginIncident::Kind::kAccountLocked ? "account_locked" : "source_throttled"},
             {"severity", "high"},
             {"state", "open"},
             {"subject", i.subject},
             {"first_seen", since},
             {"last_seen", since},
             {"count", 1},
             {"actions", Json::array()}});
      }
    }
  }
  return {{"open", open}, {"items", std::move(items)}};
}

Json Audit(const audit::AuditLog* log) {
  audit::AuditStats s;
  if (log != nullptr) s = log->Stats();
  const bool signed_head = s.last_head.has_value();
  return {{"tree_size", s.tree_size},
          {"signed_tree_size", signed_head ? s.last_head->tree_size : 0},
          {"root", signed_head ? crypto::HexEncode(s.last_head->root) : ""},
          {"signed_at", signed_head ? FormatMillis(s.last_head->time()) : ""},
          {"key_fingerprint", s.key_fingerprint},
          {"replica", s.replica_id},
          {"verification",
           {{"ok", s.verified_ok},
            {"events", s.verified_events},
            {"checked_at", FormatMillis(s.verified_at)},
            {"detail", s.verify_detail}}}};
}

// What the connection limits did since start, over every listener.
Json Connections(const std::function<std::vector<ListenerConnections>()>& read) {
  uint64_t active = 0, refused = 0, displaced = 0, timed_out = 0;
  if (read) {
    for (const ListenerConnections& l : read()) {
      active += static_cast<uint64_t>(l.active);
      refused += l.refused_listener_cap + l.refused_source_cap;
      displaced += l.displaced_listener_cap + l.displaced_source_cap;
      timed_out += l.handshake_timeouts + l.first_byte_timeouts;
    }
  }
  return {{"active", active}, {"refused", refused}, {"displaced", displaced}, {"timed_out", timed_out}};
}

// The drift view: per screened model version its most drifted features (at
// most kDriftTopFeatures each, kMaxModelSeries versions), with the model's
// flagged requests.
Json Drift(const guard::Screening* screening) {
  Json out = Json::array();
  if (screening == nullptr) return out;
  std::map<std::string, uint64_t, std::less<>> flagged;
  for (const auto& c : screening->Counts()) {
    for (const uint64_t n : c.flagged) flagged[c.model] += n;
  }
  size_t versions = 0;
  for (const auto& v : screening->Versions()) {
    if (++versions > kMaxModelSeries) break;
    for (const auto& d : v->TopDrift()) {
      out.push_back({{"model", v->model()},
                     {"version", v->version()},
                     {"input", d.input},
                     {"feature", d.feature},
                     {"psi", d.psi},
                     {"flagged", flagged[v->model()]}});
    }
  }
  return out;
}

}  // namespace

std::string Monitor::DashboardJson() {
  const auto now = options_.clock->Now();
  const internal::Series series = timeline_->Read(*counters_, now);

  static constexpr const char* kMethods[internal::kDashboardAuthMethods] = {"token", "session", "jwt", "mtls",
                                                                            "password"};
  Json auth_failures = Json::object();
  uint64_t auth_failure_total = 0;
  for (size_t m = 0; m < internal::kDashboardAuthMethods; ++m) {
    auth_failures[kMethods[m]] = series.auth_failures[m];
    auth_failure_total += series.live.auth_failures[m];
  }

  // Only what the registry serves now; a model's numbers come from its series, if it has one.
  Json models = Json::array();
  std::vector<std::shared_ptr<const registry::ServedModel>> served;
  if (options_.registry != nullptr) served = options_.registry->Served();
  for (const auto& m : served) {
    const ModelSeries* s = counters_->Find(m->record.name, m->record.version);
    const bool has = s != nullptr && s->slot < series.model_requests.size();
    const internal::HistogramCounts latency = has ? series.model_latency[s->slot] : internal::HistogramCounts{};
    const double rate = has && series.last_minute_seconds > 0
                            ? static_cast<double>(series.model_last_minute[s->slot]) / series.last_minute_seconds
                            : 0.0;
    // The share of the last minute's requests answered 5xx (0 without requests).
    const uint64_t recent = has ? series.model_last_minute[s->slot] : 0;
    const double error_rate =
        recent > 0 ? static_cast<double>(series.model_errors_last_minute[s->slot]) / static_cast<double>(recent) : 0.0;
    const auto& sig = m->record.signature;
    models.push_back({{"name", m->record.name},
                      {"version", m->record.version},
                      {"format", m->record.format},
                      {"signer", sig ? sig->signer : ""},
                      {"fingerprint", sig ? sig->fingerprint : ""},
                      {"requests", has ? Json(series.model_requests[s->slot])
                                       : Json(std::vector<uint64_t>(internal::kBucketCount, 0))},
                      {"latency_p50_ms", Millis(latency.QuantileNs(0.50))},
                      {"latency_p95_ms", Millis(latency.QuantileNs(0.95))},
                      {"requests_per_second", rate},
                      {"error_rate", error_rate},
                      {"workers_up", m->instances->Stats().up},
                      {"withdrawn", m->instances->Stats().withdrawn}});
  }

  // Totals from the same reading as the open bucket, so the window and the totals agree.
  const uint64_t allowed = series.live.allowed;
  const uint64_t denied = series.live.denied;
  Json out = {
      {"generated_at", FormatMillis(now)},
      {"build", internal::BuildJson()},
      {"bucket_seconds", internal::kBucketSeconds},
      {"series",
       {{"time", series.time},
        {"allowed", series.allowed},
        {"denied", series.denied},
        {"auth_failures", std::move(auth_failures)}}},
      {"models", std::move(models)},
      {"stages", Stages(*counters_)},
      {"incidents", options_.incidents != nullptr ? Incidents(options_.incidents) : LoginIncidents(options_.users)},
      {"denials", internal::DenialsJson(denials_->Recent())},
      {"integrity", internal::IntegrityJson(options_.registry, denials_->RecentIntegrity())},
      {"credentials", internal::CredentialsJson(options_.tokens, now, started_)},
      {"drift", Drift(options_.screening)},
      {"audit", Audit(options_.audit)},
      {"runtime",
       {{"isolation", std::string(runtime::IsolationName(options_.isolation))},
        // A finding the dashboard shows until the configuration changes.
        {"finding", options_.isolation == runtime::Isolation::kNone
                        ? "Model code runs inside the server process ([runtime] isolation = \"none\"): a model "
                          "can read the server's keys. Use isolation = \"process\"."
                        : ""}}},
      {"connections", Connections(options_.connections)},
      {"totals",
       {{"requests", allowed + denied},
        {"allowed", allowed},
        {"denied", denied},
        {"auth_failures", auth_failure_total},
        {"models_loaded", served.size()}}},
  };
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace aegis::monitor
