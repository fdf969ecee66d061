// Every key aegis.toml accepts must change what the server is given.
//
// The keys come from the loader's own list (config_schema.h), which is what it
// checks files against, so a key added to the loader is covered here at once:
// this test fails until the key has two sample values below, and then fails
// unless the two values load into Configs that differ in a member `aegis serve`
// reads. That catches a key that is parsed and dropped (the loader never stores
// it) and one stored in a Config member nothing reads ([tls] ca was both parsed
// and stored, and then ignored). Whether the server uses each sub-field of a
// member it reads (each of http_limits, say) is for the behaviour tests of that
// module (tests/integration/test_errors_limits.py for [limits], …).
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "aegis/cli/config.h"
#include "aegis/common/file_util.h"
#include "aegis/guard/output_policy.h"
#include "common/testing/scoped_temp_dir.h"
#include "config_schema.h"

namespace aegis::cli {
namespace {

namespace fs = std::filesystem;

// Two valid TOML values for one key, and what else its table needs for them to load.
struct Sample {
  std::string a, b;
  std::map<std::string, std::string> with = {};  // extra lines of the same table: key → TOML value
  std::set<std::string> without = {};            // lines of the table's context to leave out
};

const std::map<std::string, Sample>& Samples() {
  static const std::map<std::string, Sample> samples = {
      {"server.listen", {"\"127.0.0.1:1\"", "\"127.0.0.1:2\""}},
      {"server.admin_listen", {"\"127.0.0.1:1\"", "\"127.0.0.1:2\""}},
      {"server.io_threads", {"1", "2"}},
      {"server.worker_threads", {"1", "2"}},
      {"server.drain_timeout_seconds", {"1", "2"}},
      {"server.required_models", {"[\"fraud\"]", "[\"churn/3\"]"}},
      {"server.trusted_proxies", {"[\"10.0.0.0/8\"]", "[]"}},
      {"server.public_model_ready", {"true", "false"}},
      {"server.cors_origins", {"[\"https://a.example\"]", "[]"}},
      {"limits.max_body_bytes", {"2048", "4096"}},
      {"limits.max_model_bytes", {"2048", "4096"}},
      {"limits.max_header_bytes", {"2048", "4096"}},
      {"limits.read_timeout_seconds", {"1", "2"}},
      {"limits.write_timeout_seconds", {"1", "2"}},
      {"limits.idle_timeout_seconds", {"1", "2"}},
      {"limits.handshake_timeout_seconds", {"1", "2"}},
      {"limits.first_byte_timeout_seconds", {"1", "2"}},
      {"limits.max_connections", {"1", "2"}},
      {"limits.max_connections_per_source", {"1", "2"}},
      {"limits.ipv6_source_prefix", {"48", "64"}},
      {"limits.body_memory_bytes", {"0", "1073741824"}},
      {"limits.body_memory_principal_percent", {"10", "20"}},
      {"limits.max_response_body_bytes", {"8192", "16384"}},
      {"guard.rate", {"\"10/s\"", "\"10/m\""}},
      {"guard.burst", {"1", "2"}},
      {"guard.quota", {"0", "100"}},
      {"guard.concurrency", {"1", "2"}},
      {"guard.auth_failures", {"\"10/m\"", "\"off\""}},
      {"guard.max_tracked", {"1000", "2000"}},
      {"guard.response.rate_abuse", {"[\"throttle\"]", "[]"}},
      {"guard.response.brute_force", {"[\"throttle\"]", "[]"}},
      {"guard.response.out_of_distribution", {"[\"throttle\"]", "[]"}},
      {"guard.response.extraction", {"[\"throttle\"]", "[\"suspend\"]"}},
      {"guard.response.integrity", {"[\"withdraw\"]", "[]"}},
      {"guard.response.engine_crash", {"[\"withdraw\"]", "[]"}},
      {"guard.response.audit", {"[\"suspend\"]", "[]"}},
      {"guard.response.throttle_rate", {"\"1/s\"", "\"2/s\""}},
      {"guard.alerts.webhook_url", {"\"https://a/\"", "\"https://b/\""}},
      {"guard.alerts.ca_file", {"\"a.pem\"", "\"b.pem\""}},
      {"guard.alerts.token_file", {"\"a.token\"", "\"b.token\""}},
      {"guard.alerts.receiver", {"\"a\"", "\"b\""}},
      {"guard.alerts.queue_size", {"1", "2"}},
      {"guard.alerts.timeout_seconds", {"1", "2"}},
      {"guard.extraction", {"\"on\"", "\"off\""}},
      {"guard.extraction_threshold", {"0.9", "0.95"}},
      {"guard.extraction_min_queries", {"50", "60"}},
      {"guard.extraction_window", {"200", "300"}},
      {"guard.extraction_max_rows_per_day", {"0", "10"}},
      {"guard.extraction_max_tracked", {"10", "20"}},
      {"runtime.isolation", {"\"process\"", "\"none\""}},
      {"runtime.instances_per_model", {"1", "2"}},
      {"runtime.memory_limit_mb", {"512", "1024"}},
      {"runtime.request_timeout_ms", {"100", "200"}},
      {"runtime.queue_timeout_ms", {"100", "200"}},
      {"runtime.max_queued", {"1", "2"}},
      {"runtime.max_request_bytes", {"8192", "16384"}},
      {"runtime.max_response_bytes", {"8192", "16384"}},
      {"runtime.load_timeout_seconds", {"1", "2"}},
      {"runtime.max_failures", {"1", "2"}},
      {"runtime.failure_window_seconds", {"60", "61"}},
      {"runtime.onnx_engine", {"\"onnxruntime\"", "\"opencv\""}},
      {"runtime.onnxruntime_dir", {"\"/a\"", "\"/b\""}},
      {"models.*.instances", {"1", "2"}},
      {"models.*.memory_limit_mb", {"512", "1024"}},
      {"models.*.request_timeout_ms", {"100", "200"}},
      {"models.*.max_response_body_bytes", {"8192", "16384"}},
      {"models.*.engine", {"\"onnxruntime\"", "\"opencv\""}},
      {"models.*.output_policy", {"\"top_k:3\"", "\"round:2\""}},
      {"models.*.screening", {"\"off\"", "\"refuse\""}},
      {"models.*.screening_sigma", {"3", "4.5"}},
      {"models.*.screening_range_margin", {"0", "0.5"}},
      {"models.*.screening_score", {"1.5", "3"}},
      {"models.*.rate", {"\"1/s\"", "\"2/s\""}},
      {"models.*.burst", {"1", "2", {{"rate", "\"1/s\""}}}},
      {"models.*.extraction", {"\"on\"", "\"off\""}},
      {"models.*.extraction_threshold", {"0.8", "0.95"}},
      {"models.*.extraction_min_queries", {"30", "60"}},
      {"models.*.extraction_window", {"100", "300"}},
      {"models.*.extraction_max_rows_per_day", {"0", "10"}},
      {"registry.require_signature", {"true", "false"}},
      {"store.url", {"\"postgresql:///a?host=/run/postgresql\"", "\"postgresql:///b?host=/run/postgresql\""}},
      {"tls.cert", {"\"a.crt\"", "\"b.crt\""}},
      {"tls.key", {"\"a.key\"", "\"b.key\""}},
      {"tls.ca", {"\"a.pem\"", "\"b.pem\""}},
      {"tls.client_ca", {"\"a.pem\"", "\"b.pem\""}},
      {"tls.require_client_cert", {"false", "true", {{"client_ca", "\"a.pem\""}}}},
      {"metrics.listen", {"\"127.0.0.1:1\"", "\"127.0.0.1:2\""}},
      {"metrics.client_ca", {"\"a.pem\"", "\"b.pem\"", {{"listen", "\"127.0.0.1:9464\""}}}},
      {"auth.jwt.issuer", {"\"https://a\"", "\"https://b\""}},
      {"auth.jwt.audience", {"\"a\"", "\"b\""}},
      {"auth.jwt.jwks_file", {"\"a.json\"", "\"b.json\""}},
      {"auth.jwt.jwks_url", {"\"https://a/jwks\"", "\"https://b/jwks\"", {}, {"jwks_file"}}},
      {"auth.jwt.jwks_ca", {"\"a.pem\"", "\"b.pem\"", {{"jwks_url", "\"https://idp/jwks\""}}, {"jwks_file"}}},
      {"auth.jwt.roles_claim", {"\"a\"", "\"b\""}},
      {"auth.jwt.models_claim", {"\"a\"", "\"b\""}},
      {"auth.jwt.leeway_seconds", {"1", "2"}},
      {"auth.jwt.role_map", {"{ ops = \"consumer\" }", "{ ops = \"auditor\" }"}},
      {"auth.mtls.subject", {"\"CN=a\"", "\"CN=b\""}},
      {"auth.mtls.san", {"\"DNS:a\"", "\"DNS:b\"", {}, {"subject"}}},
      {"auth.mtls.role", {"\"consumer\"", "\"deployer\""}},
      {"auth.mtls.models", {"\"a*\"", "\"b*\""}},
      {"audit.segment_max_bytes", {"65536", "131072"}},
      {"audit.verify_interval_seconds", {"60", "61"}},
      {"audit.inference_events", {"\"all\"", "\"summary\""}},
      {"audit.retention_days", {"0", "92"}},
      {"audit.archive_dir",
       {"\"/tmp/aegis-archive-sample-a\"", "\"/tmp/aegis-archive-sample-b\"", {{"archive_after_days", "1"}}}},
      {"audit.archive_after_days", {"1", "2", {{"archive_dir", "\"/tmp/aegis-archive-sample-a\""}}}},
      {"audit.syslog.address", {"\"127.0.0.1:514\"", "\"127.0.0.1:515\""}},
      {"audit.syslog.transport", {"\"tls\"", "\"tcp\""}},
      {"audit.syslog.ca", {"\"a.pem\"", "\"b.pem\""}},
      {"audit.syslog.cert", {"\"a.pem\"", "\"b.pem\"", {{"key", "\"a.pem\""}}}},
      {"audit.syslog.key", {"\"a.pem\"", "\"b.pem\"", {{"cert", "\"a.pem\""}}}},
      {"audit.syslog.facility", {"\"authpriv\"", "\"local0\""}},
      {"audit.syslog.app_name", {"\"a\"", "\"b\""}},
      {"audit.syslog.max_message_bytes", {"480", "481"}},
      {"audit.syslog.queue_size", {"1", "2"}},
      {"audit.syslog.allow_plaintext", {"false", "true", {{"transport", "\"tcp\""}}}},
      {"audit.webhook.url", {"\"https://a/\"", "\"https://b/\""}},
      {"audit.webhook.ca", {"\"a.pem\"", "\"b.pem\""}},
      {"audit.webhook.token_file", {"\"a.token\"", "\"b.token\""}},
      {"audit.webhook.batch_size", {"1", "2"}},
      {"audit.webhook.queue_size", {"1", "2"}},
      {"audit.webhook.timeout_seconds", {"1", "2"}},
      {"logging.level", {"\"info\"", "\"debug\""}},
      {"logging.format", {"\"text\"", "\"json\""}},
      {"logging.access_log", {"\"access.log\"", "\"-\""}},
  };
  return samples;
}

// What a table needs to load at all: tables written before it, and its required keys.
struct Context {
  std::string before;
  std::map<std::string, std::string> lines;
};

Context ContextOf(const std::string& table) {
  if (table == "auth.jwt") {
    return {"", {{"issuer", "\"https://idp\""}, {"audience", "\"aegis\""}, {"jwks_file", "\"jwks.json\""}}};
  }
  if (table == "auth.mtls")
    return {"[tls]\nclient_ca = \"a.pem\"\n", {{"subject", "\"CN=a\""}, {"role", "\"consumer\""}}};
  if (table == "audit.syslog") return {"", {{"address", "\"127.0.0.1:514\""}}};
  if (table == "audit.webhook") return {"", {{"url", "\"https://siem.example/ingest\""}}};
  if (table == "guard.alerts") return {"", {{"webhook_url", "\"https://alerts.example/hook\""}}};
  return {};
}

std::string Header(const std::string& table) {
  if (table == "auth.mtls") return "[[auth.mtls]]";
  if (table == "models.*") return "[models.\"m\"]";
  return "[" + table + "]";
}

// A document with `table` holding its context and `key = value` (the key's sample adjustments applied).
std::string Document(const std::string& table, const std::string& key, const std::string& value,
                     const Sample& sample = {}) {
  Context context = ContextOf(table);
  for (const auto& k : sample.without) context.lines.erase(k);
  for (const auto& [k, v] : sample.with) context.lines[k] = v;
  context.lines.erase(key);
  std::string text = context.before + Header(table) + "\n";
  for (const auto& [k, v] : context.lines) text += k + " = " + v + "\n";
  return text + key + " = " + value + "\n";
}

// Every Config member a key can reach, as "member.path" → value. A key whose value
// lands somewhere not listed here shows no difference and fails the test, which is
// the safe direction: list the new member.
std::map<std::string, std::string> Fingerprint(const Config& c) {
  std::map<std::string, std::string> f;
  auto put = [&f](const std::string& name, const auto& value) {
    std::ostringstream out;
    out << value;
    f[name] = out.str();
  };
  put("listen", c.listen);
  put("admin_listen", c.admin_listen);
  put("server.io_threads", c.server.io_threads);
  put("server.worker_threads", c.server.worker_threads);
  put("server.drain_timeout", c.server.drain_timeout.count());
  for (size_t i = 0; i < c.required_models.size(); ++i)
    put("required_models[" + std::to_string(i) + "]", c.required_models[i]);
  std::string proxies;
  for (const auto& p : c.trusted_proxies) proxies += p + ",";
  put("trusted_proxies", proxies);
  put("public_model_ready", c.public_model_ready);
  std::string origins;
  for (const auto& o : c.cors_origins) origins += o + ",";
  put("cors_origins", origins);
  put("http_limits.max_header_bytes", c.http_limits.max_header_bytes);
  put("http_limits.read_timeout", c.http_limits.read_timeout.count());
  put("http_limits.write_timeout", c.http_limits.write_timeout.count());
  put("http_limits.idle_timeout", c.http_limits.idle_timeout.count());
  put("http_limits.handshake_timeout", c.http_limits.handshake_timeout.count());
  put("http_limits.first_byte_timeout", c.http_limits.first_byte_timeout.count());
  put("http_limits.max_connections", c.http_limits.max_connections);
  put("http_limits.max_connections_per_source", c.http_limits.max_connections_per_source);
  put("http_limits.ipv6_source_prefix", c.http_limits.ipv6_source_prefix);
  put("api_limits.max_body_bytes", c.api_limits.max_body_bytes);
  put("api_limits.max_model_bytes", c.api_limits.max_model_bytes);
  put("api_limits.body_memory_bytes", c.api_limits.body_memory_bytes);
  put("api_limits.body_memory_principal_percent", c.api_limits.body_memory_principal_percent);
  put("api_limits.max_response_body_bytes", c.api_limits.max_response_body_bytes);
  for (const auto& [name, m] : c.api_limits.models) {
    put("api_limits.models[" + name + "].max_response_body_bytes", m.max_response_body_bytes.value_or(0));
    put("api_limits.models[" + name + "].output_policy", guard::OutputPolicyName(m.output_policy));
    put("api_limits.models[" + name + "].screening", std::string(guard::ScreeningModeName(m.screening.mode)));
    put("api_limits.models[" + name + "].screening_sigma", m.screening.sigma);
    put("api_limits.models[" + name + "].screening_range_margin", m.screening.range_margin);
    put("api_limits.models[" + name + "].screening_score", m.screening.score_multiplier);
  }
  const auto& g = c.guard;
  put("guard.principal.per_second", g.principal.per_second);
  put("guard.principal.burst", g.principal.burst);
  put("guard.principal.quota_per_day", g.principal.quota_per_day);
  put("guard.concurrency", g.concurrency);
  put("guard.auth_failures.per_second", g.auth_failures.per_second);
  put("guard.auth_failures.burst", g.auth_failures.burst);
  put("guard.max_tracked", g.max_tracked);
  for (const auto& [name, limit] : g.models) {
    put("guard.models[" + name + "].per_second", limit.per_second);
    put("guard.models[" + name + "].burst", limit.burst);
  }
  auto extraction = [&](const std::string& at, const guard::ExtractionSettings& e) {
    put(at + ".enabled", e.enabled);
    put(at + ".threshold", e.threshold);
    put(at + ".min_queries", e.min_queries);
    put(at + ".window", e.window);
    put(at + ".max_rows_per_day", e.max_rows_per_day);
  };
  extraction("extraction.defaults", c.extraction.defaults);
  put("extraction.max_tracked", c.extraction.max_tracked);
  for (const auto& [name, e] : c.extraction.models) extraction("extraction.models[" + name + "]", e);
  const auto& r = c.runtime;
  put("runtime.isolation", runtime::IsolationName(r.isolation));
  put("runtime.instances", r.instances);
  put("runtime.memory_limit_bytes", r.memory_limit_bytes);
  put("runtime.request_timeout", r.request_timeout.count());
  put("runtime.queue_timeout", r.queue_timeout.count());
  put("runtime.max_queued", r.max_queued);
  put("runtime.max_request_bytes", r.max_request_bytes);
  put("runtime.max_response_bytes", r.max_response_bytes);
  put("runtime.load_timeout", r.load_timeout.count());
  put("runtime.max_failures", r.max_failures);
  put("runtime.failure_window", r.failure_window.count());
  put("runtime.onnx_engine", runtime::OnnxEngineName(r.onnx_engine));
  put("runtime.onnxruntime_dir", r.onnxruntime_dir);
  for (const auto& [name, o] : c.models) {
    put("models[" + name + "].instances", o.instances.value_or(0));
    put("models[" + name + "].memory_limit_bytes", o.memory_limit_bytes.value_or(0));
    put("models[" + name + "].request_timeout", o.request_timeout.value_or(std::chrono::milliseconds(0)).count());
    put("models[" + name + "].engine", o.onnx_engine ? runtime::OnnxEngineName(*o.onnx_engine) : "(default)");
  }
  put("require_signature", c.require_signature);
  put("store_url", c.store_url);
  put("tls_cert", c.tls_cert);
  put("tls_key", c.tls_key);
  put("tls_ca", c.tls_ca);
  put("tls_client_ca", c.tls_client_ca);
  put("require_client_cert", c.require_client_cert);
  put("metrics_listen", c.metrics_listen);
  put("metrics_client_ca", c.metrics_client_ca);
  put("logging.level", log::LevelName(c.logging.level));
  put("logging.format", log::FormatName(c.logging.format));
  put("logging.access_log", c.logging.access_log);
  if (c.jwt) {
    const auto& v = c.jwt->verifier;
    put("jwt.verifier.issuer", v.issuer);
    put("jwt.verifier.audience", v.audience);
    put("jwt.verifier.roles_claim", v.roles_claim);
    put("jwt.verifier.models_claim", v.models_claim.value_or("(none)"));
    put("jwt.verifier.leeway", v.leeway.count());
    for (const auto& [from, to] : v.role_map) put("jwt.verifier.role_map." + from, to);
    put("jwt.jwks_file", c.jwt->jwks_file);
    put("jwt.jwks_url", c.jwt->jwks_url);
    put("jwt.jwks_ca", c.jwt->jwks_ca);
  }
  for (size_t i = 0; i < c.client_identities.size(); ++i) {
    const std::string at = "client_identities[" + std::to_string(i) + "].";
    put(at + "subject", c.client_identities[i].subject);
    put(at + "san", c.client_identities[i].san);
    put(at + "grant", c.client_identities[i].grant.Describe());
  }
  put("audit_segment_max_bytes", c.audit_segment_max_bytes);
  put("audit_verify_interval", c.audit_verify_interval.count());
  put("audit_summarize_inferences", c.audit_summarize_inferences);
  put("audit_retention_days", c.audit_retention_days);
  put("audit_archive_dir", c.audit_archive_dir);
  put("audit_archive_after_days", c.audit_archive_after_days);
  if (c.syslog) {
    const auto& s = *c.syslog;
    put("syslog.host", s.host);
    put("syslog.port", s.port);
    put("syslog.transport", static_cast<int>(s.transport));
    put("syslog.ca_file", s.ca_file);
    put("syslog.cert_file", s.cert_file);
    put("syslog.key_file", s.key_file);
    put("syslog.facility", s.facility);
    put("syslog.app_name", s.app_name);
    put("syslog.hostname", s.hostname);
    put("syslog.max_message_bytes", s.max_message_bytes);
    put("syslog.queue_size", s.queue_size);
    put("syslog.allow_plaintext", s.allow_plaintext);
    put("syslog.timeout", s.timeout.count());
  }
  for (size_t k = 0; k < c.playbooks.by_kind.size(); ++k) {
    std::string actions;
    for (const auto a : c.playbooks.by_kind[k]) actions += std::string(incident::ResponseActionName(a)) + ",";
    put("playbooks[" + std::to_string(k) + "]", actions);
  }
  put("throttle_limit.per_second", c.throttle_limit.per_second);
  put("throttle_limit.burst", c.throttle_limit.burst);
  if (c.alerts) {
    const auto& w = *c.alerts;
    put("alerts.url", w.url);
    put("alerts.ca_file", w.ca_file);
    put("alerts.bearer_token", w.bearer_token);
    put("alerts.receiver", w.receiver);
    put("alerts.queue_size", w.queue_size);
    put("alerts.timeout", w.timeout.count());
  }
  if (c.webhook) {
    const auto& w = *c.webhook;
    put("webhook.url", w.url);
    put("webhook.ca_file", w.ca_file);
    put("webhook.bearer_token", w.bearer_token);
    put("webhook.batch_size", w.batch_size);
    put("webhook.queue_size", w.queue_size);
    put("webhook.timeout", w.timeout.count());
  }
  return f;
}

// The top-level member a fingerprint entry belongs to ("http_limits" for "http_limits.read_timeout").
std::string MemberOf(const std::string& entry) { return entry.substr(0, entry.find_first_of(".[")); }

// The sources that turn a Config into a running server: src/cli less the loader and the tests.
std::string ServerSources() {
  const char* root = std::getenv("AEGIS_SOURCE_DIR");
  if (root == nullptr) return "";
  std::string text;
  for (const auto& entry : fs::directory_iterator(fs::path(root) / "src" / "cli")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".cc" || name.ends_with("_test.cc") || name == "config.cc" ||
        name == "config_schema.cc" || name == "auth_config.cc" || name == "audit_config.cc" ||
        name == "runtime_config.cc") {
      continue;
    }
    auto body = ReadFile(entry.path());
    if (body.ok()) text += *body;
  }
  return text;
}

class ConfigKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Files that path keys must find (contents are checked later, by the listener or sink).
    for (const char* f : {"a.pem", "b.pem"}) std::ofstream(dir_ / f) << "x";
    std::ofstream(dir_ / "a.token") << "token-a\n";
    std::ofstream(dir_ / "b.token") << "token-b\n";
    ::chmod((dir_ / "a.token").c_str(), 0600);
    ::chmod((dir_ / "b.token").c_str(), 0600);
  }

  StatusOr<Config> Load(const std::string& text) {
    std::ofstream(dir_ / "aegis.toml", std::ios::trunc) << text;
    return LoadConfig(dir_);
  }

  testing::ScopedTempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

// Each key, as the loader lists them: "table.key" for every key that is not itself a table.
std::set<std::string> LeafKeys() {
  std::set<std::string> keys;
  for (const auto& [table, names] : internal::ConfigSchema()) {
    for (const auto& name : names) {
      const std::string path = table.empty() ? name : table + "." + name;
      if (!internal::ConfigSchema().contains(path)) keys.insert(path);
    }
  }
  return keys;
}

TEST_F(ConfigKeysTest, EveryKeyChangesWhatTheServerIsGiven) {
  const std::string sources = ServerSources();
  ASSERT_FALSE(sources.empty()) << "AEGIS_SOURCE_DIR must name the source tree (ctest sets it)";
  const std::set<std::string> keys = LeafKeys();
  ASSERT_GT(keys.size(), 40u);
  for (const std::string& path : keys) {
    SCOPED_TRACE(path);
    auto it = Samples().find(path);
    ASSERT_NE(it, Samples().end()) << path << " is accepted by the loader but has no sample here: give it two "
                                   << "values that must make the server behave differently";
    const Sample& sample = it->second;
    const std::string table = path.substr(0, path.rfind('.'));
    const std::string key = path.substr(path.rfind('.') + 1);
    const std::string doc_a = Document(table, key, sample.a, sample), doc_b = Document(table, key, sample.b, sample);
    auto a = Load(doc_a);
    ASSERT_TRUE(a.ok()) << doc_a << "→ " << a.status().message();
    auto b = Load(doc_b);
    ASSERT_TRUE(b.ok()) << doc_b << "→ " << b.status().message();
    const auto fa = Fingerprint(*a), fb = Fingerprint(*b);
    std::set<std::string> changed;
    for (const auto& [name, value] : fa) {
      if (!fb.contains(name) || fb.at(name) != value) changed.insert(MemberOf(name));
    }
    for (const auto& [name, value] : fb) {
      if (!fa.contains(name)) changed.insert(MemberOf(name));
    }
    EXPECT_FALSE(changed.empty()) << path << " = " << sample.a << " and = " << sample.b
                                  << " load into the same Config: the key is parsed but has no effect";
    for (const std::string& member : changed) {
      const std::regex read("\\bconfig\\." + member + "\\b");
      EXPECT_TRUE(std::regex_search(sources, read))
          << path << " lands in Config::" << member << ", which nothing in src/cli outside the loader reads: "
          << "the key is parsed but has no effect";
    }
  }
  // And no sample is left for a key the loader no longer accepts.
  for (const auto& [path, sample] : Samples()) EXPECT_TRUE(keys.count(path)) << path << " is not a key any more";
}

// `aegis init` writes every key of the plain sections with its default, so an
// operator sees each setting there is (the identity sections and sinks are
// optional and shown commented out).
TEST_F(ConfigKeysTest, InitWritesEveryKeyOfThePlainSections) {
  const toml::table written = toml::parse(RenderDefaultConfig("127.0.0.1:1", "127.0.0.1:2", /*local_ca=*/true));
  for (const char* table : {"server", "limits", "runtime", "registry"}) {
    for (const std::string& key : internal::KeysOf(table)) {
      EXPECT_TRUE(written[table][key]) << "init does not write " << table << "." << key;
    }
  }
  for (const char* key : {"cert", "key", "ca"}) EXPECT_TRUE(written["tls"][key]) << "init does not write tls." << key;
  for (const char* key : {"segment_max_bytes", "verify_interval_seconds"}) {
    EXPECT_TRUE(written["audit"][key]) << "init does not write audit." << key;
  }
  for (const char* key : {"level", "format"})
    EXPECT_TRUE(written["logging"][key]) << "init does not write logging." << key;
}

TEST_F(ConfigKeysTest, EveryTableRefusesUnknownKeys) {
  auto top = Load("[zz_section]\nx = 1\n");
  ASSERT_FALSE(top.ok());
  EXPECT_NE(top.status().message().find("zz_section: unknown section"), std::string::npos) << top.status().message();
  for (const auto& [table, names] : internal::ConfigSchema()) {
    if (table.empty() || names.contains("*")) continue;  // [models] holds tables named by the operator
    SCOPED_TRACE(table);
    const std::string doc = Document(table, "zz_not_a_key", "1");
    auto config = Load(doc);
    ASSERT_FALSE(config.ok()) << doc;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    const std::string where = table == "auth.mtls"  ? "auth.mtls[0]."
                              : table == "models.*" ? "models.\"m\"."
                                                    : table + ".";
    EXPECT_NE(config.status().message().find(where + "zz_not_a_key: unknown key"), std::string::npos)
        << config.status().message();
  }
}

}  // namespace
}  // namespace aegis::cli
