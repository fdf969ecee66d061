#include "aegis/monitor/monitor.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/common/file_util.h"
#include "aegis/common/version.h"
#include "aegis/keys/key_provider.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"
#include "counters.h"
#include "timeline.h"

namespace aegis::monitor {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// 2026-12-04T19:30:00Z, a bucket boundary.
const auto kStart = std::chrono::system_clock::time_point(std::chrono::seconds(1796412600));

// The value of the sample whose name and labels are exactly `series`, or -1.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

bool Contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

registry::ServedModel Served(std::string name, std::string version) {
  registry::ServedModel m;
  m.record.name = std::move(name);
  m.record.version = std::move(version);
  return m;
}

class MonitorTest : public ::testing::Test {
 protected:
  MonitorOptions Options() {
    MonitorOptions o;
    o.clock = &clock_;
    return o;
  }
  FakeClock clock_{kStart};
  testing::ScopedTempDir tmp_;
};

TEST_F(MonitorTest, RequestsAreCountedPerServedModelVersionAndCode) {
  Monitor monitor(Options());
  const auto mlp = Served("mlp", "1");
  ModelSeries* series = monitor.SeriesFor(mlp);
  EXPECT_EQ(series, monitor.SeriesFor(Served("mlp", "1"))) << "one cell per name and version";
  EXPECT_NE(series, monitor.SeriesFor(Served("mlp", "2")));
  monitor.RequestEnded(series, 200, false, 70us);
  monitor.RequestEnded(series, 200, false, 80us);
  monitor.RequestEnded(series, 400, false, 30us);
  monitor.RequestEnded(nullptr, 404, false, 10us);
  monitor.RequestEnded(nullptr, 401, true, 10us);
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="200",model="mlp",version="1"})"), 2);
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="400",model="mlp",version="1"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="404",model="-",version="-"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="401",model="-",version="-"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_request_duration_seconds_count{model="mlp",version="1"})"), 3);
  EXPECT_EQ(Sample(text, R"(aegis_request_duration_seconds_bucket{model="mlp",version="1",le="5e-05"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_request_duration_seconds_bucket{model="mlp",version="1",le="0.0001"})"), 3);
  EXPECT_EQ(Sample(text, R"(aegis_request_duration_seconds_bucket{model="mlp",version="1",le="+Inf"})"), 3);
  EXPECT_NEAR(Sample(text, R"(aegis_request_duration_seconds_sum{model="mlp",version="1"})"), 180e-6, 1e-12);
  EXPECT_TRUE(Contains(text, "# TYPE aegis_requests_total counter"));
  EXPECT_TRUE(Contains(text, "# TYPE aegis_request_duration_seconds histogram"));
}

TEST_F(MonitorTest, BuildInfoNamesTheVersionAndRevision) {
  Monitor monitor(Options());
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, "aegis_build_info{version=\"" + std::string(kVersion) + "\",revision=\"" +
                             std::string(kRevision) + "\"}"),
            1);
  EXPECT_TRUE(Contains(text, "# TYPE aegis_build_info gauge"));
  EXPECT_FALSE(kRevision.empty());
}

TEST_F(MonitorTest, InFlightInferencesQueueWaitBatchesAndScrapes) {
  Monitor monitor(Options());
  ModelSeries* mlp = monitor.SeriesFor(Served("mlp", "1"));
  monitor.RequestBegan();
  monitor.RequestBegan();
  std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, "aegis_requests_in_flight"), 2);
  monitor.InferenceCompleted(mlp, true, 0ns, 1);
  monitor.InferenceCompleted(mlp, true, 3ms, 4);
  monitor.InferenceCompleted(mlp, false, 2s, 1);
  monitor.InferenceCompleted(nullptr, true, 1ms, 1);  // no series: not counted
  monitor.RequestEnded(mlp, 200, false, 1ms);
  monitor.MetricsScraped(ScrapeListener::kMetrics);
  monitor.MetricsScraped(ScrapeListener::kMetrics);
  monitor.MetricsScraped(ScrapeListener::kAdmin);
  text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, "aegis_requests_in_flight"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_inferences_total{model="mlp",version="1",result="success"})"), 2);
  EXPECT_EQ(Sample(text, R"(aegis_inferences_total{model="mlp",version="1",result="failure"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_model_queue_wait_seconds_count{model="mlp",version="1"})"), 3);
  EXPECT_EQ(Sample(text, R"(aegis_model_queue_wait_seconds_bucket{model="mlp",version="1",le="0.0025"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_model_queue_wait_seconds_bucket{model="mlp",version="1",le="0.005"})"), 2);
  EXPECT_NEAR(Sample(text, R"(aegis_model_queue_wait_seconds_sum{model="mlp",version="1"})"), 2.003, 1e-9);
  EXPECT_EQ(Sample(text, R"(aegis_inference_batch_size_bucket{model="mlp",version="1",le="1"})"), 2);
  EXPECT_EQ(Sample(text, R"(aegis_inference_batch_size_bucket{model="mlp",version="1",le="4"})"), 3);
  EXPECT_EQ(Sample(text, R"(aegis_inference_batch_size_sum{model="mlp",version="1"})"), 6);
  EXPECT_EQ(Sample(text, R"(aegis_metrics_scrapes_total{listener="metrics"})"), 2);
  EXPECT_EQ(Sample(text, R"(aegis_metrics_scrapes_total{listener="admin"})"), 1);
  EXPECT_TRUE(Contains(text, "# TYPE aegis_inference_batch_size histogram"));
  // The standard process metrics, read from /proc.
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 0);
  EXPECT_GT(Sample(text, "process_open_fds"), 0);
  EXPECT_GT(Sample(text, "process_start_time_seconds"), 1.7e9);
  EXPECT_GE(Sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_TRUE(Contains(text, "# TYPE process_cpu_seconds_total counter"));
}

TEST_F(MonitorTest, ModelSeriesAreBounded) {
  Monitor monitor(Options());
  std::vector<ModelSeries*> cells;
  for (size_t i = 0; i < kMaxModelSeries + 5; ++i) {
    cells.push_back(monitor.SeriesFor(Served("m" + std::to_string(i), "1")));
  }
  for (size_t i = 0; i < kMaxModelSeries + 5; ++i) monitor.RequestEnded(cells[i], 200, false, 1us);
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="200",model="m0",version="1"})"), 1);
  const std::string last = "m" + std::to_string(kMaxModelSeries - 1);
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="200",model=")" + last + R"(",version="1"})"), 1);
  const std::string beyond = "m" + std::to_string(kMaxModelSeries);
  EXPECT_FALSE(Contains(text, "model=\"" + beyond + "\"")) << "beyond the cap: the \"-\" series";
  EXPECT_EQ(Sample(text, R"(aegis_requests_total{code="200",model="-",version="-"})"), 5);
}

TEST_F(MonitorTest, StagesAuthAttemptsAndDenials) {
  Monitor monitor(Options());
  monitor.ObserveStage(Stage::kPolicy, 800ns);
  monitor.ObserveStage(Stage::kEngine, 4us);
  monitor.ObserveStage(Stage::kEngine, 6us);
  monitor.AuthAttempt(AuthMethod::kToken, true);
  monitor.AuthAttempt(AuthMethod::kToken, false);
  monitor.AuthAttempt(AuthMethod::kPassword, false);
  monitor.AuthAttempt(AuthMethod::kNone, false);
  monitor.AuthzDenied();
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, R"(aegis_stage_duration_seconds_count{stage="policy"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_stage_duration_seconds_bucket{stage="policy",le="1e-06"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_stage_duration_seconds_count{stage="engine"})"), 2);
  EXPECT_EQ(Sample(text, R"(aegis_stage_duration_seconds_count{stage="tls"})"), 0) << "every stage is exported";
  EXPECT_EQ(Sample(text, R"(aegis_auth_attempts_total{method="token",result="success"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_auth_attempts_total{method="token",result="failure"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_auth_attempts_total{method="password",result="failure"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_auth_attempts_total{method="none",result="failure"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_auth_attempts_total{method="jwt",result="failure"})"), 0);
  EXPECT_EQ(Sample(text, "aegis_authz_denied_total"), 1);
}

TEST_F(MonitorTest, MemoryLimitRefusalsAndTheBodyBudget) {
  EXPECT_EQ(Sample(Monitor(Options()).PrometheusText(), R"(aegis_limit_refusals_total{limit="response_size"})"), 0)
      << "the response counter is there without a budget";
  guard::MemoryBudget budget({.total_bytes = 1000, .per_principal_bytes = 600});
  MonitorOptions options = Options();
  options.body_budget = &budget;
  Monitor monitor(options);
  auto a = budget.Open("a"), b = budget.Open("b");
  ASSERT_EQ(a.GrowTo(600), guard::BudgetRefusal::kNone);
  EXPECT_EQ(a.GrowTo(601), guard::BudgetRefusal::kPrincipal);
  EXPECT_EQ(b.GrowTo(401), guard::BudgetRefusal::kTotal);
  monitor.ResponseTooLarge();
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, R"(aegis_limit_refusals_total{limit="body_memory_principal"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_limit_refusals_total{limit="body_memory_total"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_limit_refusals_total{limit="response_size"})"), 1);
  EXPECT_EQ(Sample(text, "aegis_body_memory_bytes"), 600);
  EXPECT_EQ(Sample(text, "aegis_body_memory_limit_bytes"), 1000);
  a.Release();
  EXPECT_EQ(Sample(monitor.PrometheusText(), "aegis_body_memory_bytes"), 0) << "read at scrape time";
}

TEST_F(MonitorTest, RateLimitRefusalsByReason) {
  Monitor monitor(Options());
  EXPECT_EQ(Sample(monitor.PrometheusText(), R"(aegis_rate_limited_total{reason="auth_failures"})"), 0)
      << "every reason is there before any refusal";
  monitor.RateLimited(guard::GuardReason::kRate);
  monitor.RateLimited(guard::GuardReason::kRate);
  monitor.RateLimited(guard::GuardReason::kConcurrency);
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, R"(aegis_rate_limited_total{reason="rate"})"), 2);
  EXPECT_EQ(Sample(text, R"(aegis_rate_limited_total{reason="concurrency"})"), 1);
  EXPECT_EQ(Sample(text, R"(aegis_rate_limited_total{reason="quota"})"), 0);
}

TEST_F(MonitorTest, StateIsReadFromTheServicesAtScrapeTime) {
  auto kek = keys::LocalKeyProvider::Create(tmp_.path() / "keys", std::nullopt);
  ASSERT_OK(kek);
  audit::AuditLogOptions audit_options;
  audit_options.dir = tmp_.path() / "audit";
  audit_options.signing_key_file = tmp_.path() / "keys" / "audit-signing.key";
  audit_options.kek = kek->get();
  audit_options.verify_interval = std::chrono::seconds(0);
  auto log = audit::AuditLog::Open(audit_options);
  ASSERT_OK(log);
  auto store = store::MetadataStore::Open(tmp_.path() / "aegis.db");
  ASSERT_OK(store);
  std::filesystem::create_directories(tmp_.path() / "blobs");
  registry::Registry registry({tmp_.path() / "blobs"}, store->get(), kek->get(), clock_);
  registry.LoadAll();
  // The KEK file was written an hour before "now".
  const auto kek_file = tmp_.path() / "keys" / "kek.key";
  const timeval times[2] = {{1796409000, 0}, {1796409000, 0}};
  ASSERT_EQ(::utimes(kek_file.c_str(), times), 0);

  MonitorOptions options = Options();
  options.registry = &registry;
  options.audit = log->get();
  options.tls_not_after = [] { return std::optional(kStart + 90 * 24h); };
  options.kek_files = {tmp_.path() / "keys" / "kek.sealed", kek_file};
  AccessLog access;  // off: nothing written, nothing dropped
  options.access_log = &access;
  options.last_reload = [] { return ConfigReload{.success = false, .time = kStart - 5s}; };
  Monitor monitor(options);

  ASSERT_OK((*log)->Flush());
  std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, "aegis_access_log_lines_total"), 0);
  EXPECT_EQ(Sample(text, "aegis_access_log_dropped_total"), 0);
  EXPECT_EQ(Sample(text, "aegis_config_last_reload_success"), 0);
  EXPECT_EQ(Sample(text, "aegis_config_last_reload_timestamp_seconds"),
            std::chrono::duration<double>((kStart - 5s).time_since_epoch()).count());
  EXPECT_EQ(Sample(text, "aegis_models_loaded"), 0);
  EXPECT_EQ(Sample(text, "aegis_integrity_failures_total"), 0);
  const double events = Sample(text, "aegis_audit_events_total");  // the log's own start event, if any
  const double tree = Sample(text, "aegis_audit_tree_size");
  EXPECT_GE(events, 0);
  EXPECT_GE(tree, events);
  EXPECT_EQ(Sample(text, "aegis_tls_cert_expiry_seconds"), 90 * 86400);
  EXPECT_EQ(Sample(text, "aegis_kek_age_seconds"), 3600);
  EXPECT_EQ(Sample(text, "aegis_incidents_open"), -1) << "no user directory: not exported";

  (*log)->Append(audit::AuditEvent{});
  (*log)->Append(audit::AuditEvent{});
  ASSERT_OK((*log)->Flush());
  ASSERT_FALSE(registry.BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t").ok());  // unsigned: refused
  clock_.Advance(10s);
  text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, "aegis_audit_events_total"), events + 2);
  EXPECT_EQ(Sample(text, "aegis_audit_tree_size"), tree + 2);
  EXPECT_EQ(Sample(text, "aegis_audit_events_summarized_total"), 0) << "inference_events = \"all\"";
  EXPECT_EQ(Sample(text, "aegis_integrity_failures_total"), 1);
  EXPECT_EQ(Sample(text, "aegis_tls_cert_expiry_seconds"), 90 * 86400 - 10);
  EXPECT_EQ(Sample(text, "aegis_kek_age_seconds"), 3610);
}

TEST_F(MonitorTest, IncidentsCountLockedNamesAndThrottledSources) {
  auto kek = keys::LocalKeyProvider::Create(tmp_.path() / "keys", std::nullopt);
  auto store = store::MetadataStore::Open(tmp_.path() / "aegis.db");
  ASSERT_TRUE(kek.ok() && store.ok());
  auth::UserDirectoryOptions limits;
  limits.lockout_threshold = 1;
  limits.source_failure_limit = 2;
  auto users = auth::UserDirectory::Create(store->get(), kek->get(), clock_, limits);
  ASSERT_OK(users);
  MonitorOptions options = Options();
  options.users = users->get();
  Monitor monitor(options);
  EXPECT_EQ(Sample(monitor.PrometheusText(), "aegis_incidents_open"), 0);
  (*users)->Login({"ghost", "wrong password!", "000000", "192.0.2.9"});
  EXPECT_EQ(Sample(monitor.PrometheusText(), "aegis_incidents_open"), 1);
  clock_.Advance(1s);
  (*users)->Login({"phantom", "wrong password!", "000000", "192.0.2.9"});
  EXPECT_EQ(Sample(monitor.PrometheusText(), "aegis_incidents_open"), 3) << "two names locked, one source throttled";
  const Json dash = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(dash["incidents"]["open"], 3);
  ASSERT_EQ(dash["incidents"]["items"].size(), 3u);
  EXPECT_EQ(dash["incidents"]["items"][0]["kind"], "account_locked");
  EXPECT_EQ(dash["incidents"]["items"][0]["subject"], "ghost");
  EXPECT_EQ(dash["incidents"]["items"][2]["kind"], "source_throttled");
  EXPECT_EQ(dash["incidents"]["items"][2]["subject"], "192.0.2.9");
  EXPECT_EQ(dash["incidents"]["items"][2]["first_seen"], "2026-12-04T19:30:01.000Z");
  clock_.Advance(31min);
  EXPECT_EQ(Sample(monitor.PrometheusText(), "aegis_incidents_open"), 0);
}

TEST_F(MonitorTest, IncidentsOpenByKindAndSeverity) {
  auto kek = keys::LocalKeyProvider::Create(tmp_.path() / "keys", std::nullopt);
  ASSERT_OK(kek);
  audit::AuditLogOptions audit_options;
  audit_options.dir = tmp_.path() / "audit";
  audit_options.signing_key_file = tmp_.path() / "keys" / "audit-signing.key";
  audit_options.kek = kek->get();
  audit_options.verify_interval = std::chrono::seconds(0);
  auto log = audit::AuditLog::Open(audit_options);
  auto store = store::MetadataStore::Open(tmp_.path() / "aegis.db");
  ASSERT_TRUE(log.ok() && store.ok());
  auto incidents = incident::Incidents::Create(store->get(), log->get(), clock_);
  ASSERT_OK(incidents);
  MonitorOptions options = Options();
  options.incidents = incidents->get();
  Monitor monitor(options);
  const std::string brute = R"(aegis_incidents_open{kind="brute_force",severity="high"})";
  EXPECT_EQ(Sample(monitor.PrometheusText(), brute), 0) << "every pair is exported, 0 included";
  auto raised =
      (*incidents)
          ->Raise(
              {incident::IncidentKind::kBruteForce, incident::Severity::kHigh, "user:ghost", "", "", "192.0.2.9", {}});
  ASSERT_OK(raised);
  ASSERT_OK(
      (*incidents)
          ->Raise(
              {incident::IncidentKind::kBruteForce, incident::Severity::kHigh, "user:ghost", "", "", "192.0.2.9", {}}));
  std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, brute), 1) << "raised twice, one incident";
  EXPECT_EQ(Sample(text, R"(aegis_incidents_open{kind="engine_crash",severity="critical"})"), 0);
  EXPECT_EQ(Sample(text, "aegis_incidents_open"), -1) << "no unlabeled series beside the labeled ones";
  EXPECT_EQ(Sample(text, "aegis_incident_detect_seconds_count"), 1) << "one incident opened";
  EXPECT_EQ(Sample(text, "aegis_incident_contain_seconds_count"), 0) << "its playbook contains nothing";
  // The dashboard lists the record, with its timeline, and counts what the metric counts.
  Json dash = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(dash["incidents"]["open"], 1);
  ASSERT_EQ(dash["incidents"]["items"].size(), 1u);
  const Json item = dash["incidents"]["items"][0];
  EXPECT_EQ(item["id"], raised->id);
  EXPECT_EQ(item["kind"], "brute_force");
  EXPECT_EQ(item["subject"], "user:ghost");
  EXPECT_EQ(item["count"], 2);
  EXPECT_EQ(item["first_seen"], raised->first_seen);
  ASSERT_OK((*incidents)->Acknowledge(raised->id, "user:admin"));
  EXPECT_EQ(Sample(monitor.PrometheusText(), brute), 0);
  dash = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(dash["incidents"]["open"], 0) << "acknowledged is not open";
  ASSERT_EQ(dash["incidents"]["items"].size(), 1u) << "but still listed until resolved";
  EXPECT_EQ(dash["incidents"]["items"][0]["state"], "acknowledged");
  ASSERT_EQ(dash["incidents"]["items"][0]["actions"].size(), 1u);
  EXPECT_EQ(dash["incidents"]["items"][0]["actions"][0]["action"], "acknowledge");
}

TEST_F(MonitorTest, DashboardHasTheContractShape) {
  Monitor monitor(Options());
  const Json d = Json::parse(monitor.DashboardJson());
  for (const char* key : {"generated_at", "bucket_seconds", "series", "models", "stages", "incidents", "audit",
                          "connections", "totals"}) {
    EXPECT_TRUE(d.contains(key)) << key;
  }
  EXPECT_EQ(d["generated_at"], "2026-12-04T19:30:00.000Z");
  EXPECT_EQ(d["bucket_seconds"], 5);
  const Json& s = d["series"];
  ASSERT_EQ(s["time"].size(), 180u);
  EXPECT_EQ(s["time"].back(), 1796412600);
  EXPECT_EQ(s["time"].front(), 1796412600 - 179 * 5);
  EXPECT_EQ(s["allowed"].size(), 180u);
  EXPECT_EQ(s["denied"].size(), 180u);
  for (const char* m : {"token", "session", "jwt", "mtls", "password"}) {
    EXPECT_EQ(s["auth_failures"][m].size(), 180u) << m;
  }
  EXPECT_EQ(s["auth_failures"].size(), 5u);
  ASSERT_EQ(d["stages"].size(), 6u);
  EXPECT_EQ(d["stages"][0]["stage"], "tls");
  EXPECT_EQ(d["stages"][5]["stage"], "audit");
  for (const char* k : {"count", "p50_ms", "p95_ms"}) EXPECT_TRUE(d["stages"][0].contains(k)) << k;
  for (const char* k :
       {"tree_size", "signed_tree_size", "root", "signed_at", "key_fingerprint", "replica", "verification"}) {
    EXPECT_TRUE(d["audit"].contains(k)) << k;
  }
  for (const char* k : {"ok", "events", "checked_at", "detail"}) EXPECT_TRUE(d["audit"]["verification"].contains(k));
  for (const char* k : {"requests", "allowed", "denied", "auth_failures", "models_loaded"}) {
    EXPECT_EQ(d["totals"][k], 0) << k;
  }
  EXPECT_TRUE(d["models"].empty());
  EXPECT_EQ(d["incidents"]["open"], 0);
  for (const char* k : {"active", "refused", "displaced", "timed_out"}) EXPECT_EQ(d["connections"][k], 0) << k;
}

// The security sections: the build, recent denials newest first (integrity
// refusals also on their own, so a flood of 401s cannot hide them), and the
// credentials that need an operator's eye.
TEST_F(MonitorTest, DashboardListsDenialsIntegrityFailuresAndCredentials) {
  auto store = std::move(store::MetadataStore::Open(tmp_.path() / "aegis.db")).value();
  auto tokens = std::move(auth::TokenAuthenticator::Create(store.get(), clock_)).value();
  auto admin = tokens->Issue({"admin", "admin", "*", std::nullopt, "init"});
  auto scorer = tokens->Issue({"scorer", "consumer", "fraud-*", std::chrono::hours(1), "token:admin"});
  auto old = tokens->Issue({"old", "consumer", "*", std::chrono::seconds(60), "token:admin"});
  auto gone = tokens->Issue({"gone", "consumer", "*", std::nullopt, "token:admin"});
  ASSERT_OK(admin);
  ASSERT_OK(scorer);
  ASSERT_OK(old);
  ASSERT_OK(gone);
  ASSERT_OK(tokens->Revoke(gone->record.id));
  MonitorOptions o = Options();
  o.tokens = tokens.get();
  Monitor monitor(o);
  clock_.Advance(2min);  // "old" expires
  ASSERT_OK(tokens->Authenticate(scorer->token));

  monitor.RecordDenial({kStart, "token:mallory", "203.0.113.9:5000", "model.push", "model:m/versions/1", 422,
                        "integrity check failed: scanner found 1 finding"});
  for (int i = 0; i < 60; ++i) {
    monitor.RecordDenial({kStart + std::chrono::seconds(i), "anonymous", "198.51.100.7:4000", "infer", "model:m", 401,
                          i == 59 ? std::string(1000, '<') : "invalid bearer token"});
  }
  const Json d = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(d["build"]["version"], std::string(kVersion));
  EXPECT_EQ(d["build"]["revision"], std::string(kRevision));

  ASSERT_EQ(d["denials"].size(), 50u) << "the newest 50";
  EXPECT_EQ(d["denials"][0]["time"], "2026-12-04T19:30:59.000Z") << "newest first";
  EXPECT_EQ(d["denials"][0]["reason"].get<std::string>(), std::string(256, '<')) << "client strings are cut";
  EXPECT_EQ(d["denials"][1]["principal"], "anonymous");
  EXPECT_EQ(d["denials"][1]["remote"], "198.51.100.7:4000");
  EXPECT_EQ(d["denials"][1]["status"], 401);
  EXPECT_EQ(d["denials"][1]["reason"], "invalid bearer token");
  ASSERT_EQ(d["integrity"]["recent"].size(), 1u) << "pushed out of the denials, kept here";
  EXPECT_EQ(d["integrity"]["recent"][0]["principal"], "token:mallory");
  EXPECT_EQ(d["integrity"]["failures"], 0);
  EXPECT_EQ(d["integrity"]["scan_findings"], 0);

  const Json& c = d["credentials"];
  EXPECT_EQ(c["since"], "2026-12-04T19:30:00.000Z");
  EXPECT_EQ(c["tokens"], 4);
  EXPECT_EQ(c["active"], 2);
  auto names = [](const Json& list) {
    std::set<std::string> out;
    for (const auto& t : list) out.insert(t["name"].get<std::string>());
    return out;
  };
  EXPECT_EQ(names(c["break_glass"]), (std::set<std::string>{"admin"}));
  EXPECT_EQ(names(c["no_expiry"]), (std::set<std::string>{"admin"})) << "revoked tokens are not listed";
  EXPECT_EQ(names(c["expired"]), (std::set<std::string>{"old"}));
  EXPECT_EQ(names(c["unused"]), (std::set<std::string>{"admin"}));
  EXPECT_EQ(c["break_glass"][0]["created_by"], "init");
  EXPECT_EQ(c["break_glass"][0]["last_used"], "");
  EXPECT_EQ(c["break_glass"][0]["expires_at"], "");
}

// The HTTP server's connection counters, per listener and reason, in the
// exposition and summed on the dashboard.
TEST_F(MonitorTest, ConnectionLimitsAreExposed) {
  MonitorOptions o = Options();
  o.connections = [] {
    ListenerConnections data{"data", 7, 100, 1, 2, 3, 4, 5, 6};
    ListenerConnections admin{"admin", 1, 10};
    return std::vector<ListenerConnections>{data, admin};
  };
  Monitor monitor(o);
  const std::string text = monitor.PrometheusText();
  EXPECT_EQ(Sample(text, "aegis_connections_active{listener=\"data\"}"), 7);
  EXPECT_EQ(Sample(text, "aegis_connections_accepted_total{listener=\"admin\"}"), 10);
  EXPECT_EQ(Sample(text, "aegis_connections_refused_total{listener=\"data\",reason=\"listener_cap\"}"), 1);
  EXPECT_EQ(Sample(text, "aegis_connections_refused_total{listener=\"data\",reason=\"source_cap\"}"), 2);
  EXPECT_EQ(Sample(text, "aegis_connections_displaced_total{listener=\"data\",reason=\"listener_cap\"}"), 3);
  EXPECT_EQ(Sample(text, "aegis_connections_displaced_total{listener=\"data\",reason=\"source_cap\"}"), 4);
  EXPECT_EQ(Sample(text, "aegis_connections_timed_out_total{listener=\"data\",phase=\"handshake\"}"), 5);
  EXPECT_EQ(Sample(text, "aegis_connections_timed_out_total{listener=\"data\",phase=\"first_byte\"}"), 6);
  const Json d = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(d["connections"]["active"], 8);
  EXPECT_EQ(d["connections"]["refused"], 3);
  EXPECT_EQ(d["connections"]["displaced"], 7);
  EXPECT_EQ(d["connections"]["timed_out"], 11);
}

// The dashboard's per-model error rate: 5xx answers of the last minute.
TEST_F(MonitorTest, TimelineCountsAModelsServerErrorsOfTheLastMinute) {
  internal::Counters counters;
  internal::Timeline timeline;
  ModelSeries* mlp = counters.FindOrCreate("mlp", "1");
  ASSERT_NE(mlp, nullptr);
  timeline.Tick(counters, kStart);
  for (int i = 0; i < 3; ++i) mlp->Count(200);
  mlp->Count(503);
  mlp->Count(500);
  mlp->Count(404);  // the client's error, not the model's
  internal::Series series = timeline.Read(counters, kStart + 7s);
  ASSERT_EQ(series.model_last_minute.size(), 1u);
  EXPECT_EQ(series.model_last_minute[0], 6u);
  EXPECT_EQ(series.model_errors_last_minute[0], 2u);
  // Two minutes on, they are out of the last minute.
  for (int i = 1; i <= 24; ++i) timeline.Tick(counters, kStart + i * 5s);
  series = timeline.Read(counters, kStart + 121s);
  EXPECT_EQ(series.model_last_minute[0], 0u);
  EXPECT_EQ(series.model_errors_last_minute[0], 0u);
}

TEST_F(MonitorTest, TimelineBucketsCountWhereTheyHappenedAndForget) {
  Monitor monitor(Options());
  monitor.RequestEnded(nullptr, 200, false, 1us);
  monitor.RequestEnded(nullptr, 403, false, 1us);  // a denial by status
  monitor.AuthAttempt(AuthMethod::kJwt, false);
  clock_.Advance(5s);
  monitor.Tick();  // closes the first bucket
  monitor.RequestEnded(nullptr, 200, false, 1us);
  monitor.RequestEnded(nullptr, 200, true, 1us);  // a denial by decision
  clock_.Advance(2s);
  Json d = Json::parse(monitor.DashboardJson());
  const Json& s = d["series"];
  EXPECT_EQ(s["time"].back(), 1796412605);
  EXPECT_EQ(s["allowed"][178], 1);
  EXPECT_EQ(s["denied"][178], 1);
  EXPECT_EQ(s["auth_failures"]["jwt"][178], 1);
  EXPECT_EQ(s["allowed"][179], 1) << "the open bucket counts live";
  EXPECT_EQ(s["denied"][179], 1);
  EXPECT_EQ(s["allowed"][177], 0);
  EXPECT_EQ(d["totals"]["requests"], 4);
  EXPECT_EQ(d["totals"]["denied"], 2);
  EXPECT_EQ(d["totals"]["auth_failures"], 1);

  // A missed tick: counts land in the last bucket that had a snapshot.
  clock_.Advance(13s);  // 19:30:20
  monitor.RequestEnded(nullptr, 200, false, 1us);
  d = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(d["series"]["time"].back(), 1796412620);
  EXPECT_EQ(d["series"]["allowed"][176], 2) << "the bucket that began 19:30:05: its own request and this one";
  EXPECT_EQ(d["series"]["allowed"][179], 0);

  // Twenty minutes later the window holds nothing of this, and stays 180 long.
  for (int i = 0; i < 240; ++i) {
    clock_.Advance(5s);
    monitor.Tick();
  }
  d = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(d["series"]["time"].size(), 180u);
  uint64_t sum = 0;
  for (const auto& v : d["series"]["allowed"]) sum += v.get<uint64_t>();
  EXPECT_EQ(sum, 0u);
  EXPECT_EQ(d["totals"]["allowed"], 3);
}

TEST_F(MonitorTest, DashboardStagePercentiles) {
  Monitor monitor(Options());
  for (int i = 0; i < 100; ++i) monitor.ObserveStage(Stage::kAuth, 20us);
  const Json d = Json::parse(monitor.DashboardJson());
  EXPECT_EQ(d["stages"][1]["stage"], "auth");
  EXPECT_EQ(d["stages"][1]["count"], 100);
  EXPECT_DOUBLE_EQ(d["stages"][1]["p50_ms"].get<double>(), 0.0175);
  EXPECT_EQ(d["stages"][0]["count"], 0);
  EXPECT_EQ(d["stages"][0]["p50_ms"], 0.0);
}

TEST_F(MonitorTest, TheTickerClosesBuckets) {
  MonitorOptions options;  // the real clock
  Monitor monitor(options);
  monitor.Start();
  monitor.RequestEnded(nullptr, 200, false, 1us);
  monitor.Stop();
  monitor.Stop();  // idempotent
  const Json d = Json::parse(monitor.DashboardJson());
  uint64_t sum = 0;
  for (const auto& v : d["series"]["allowed"]) sum += v.get<uint64_t>();
  EXPECT_EQ(sum, 1u);
}

}  // namespace
}  // namespace aegis::monitor
