#include "aegis/cli/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::cli {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) { std::ofstream(dir_ / "aegis.toml") << text; }

  // Each (file text, expected message part) is refused as InvalidArgument.
  void ExpectRefused(const std::vector<std::pair<std::string, std::string>>& cases) {
    for (const auto& [text, expected] : cases) {
      Write(text);
      auto config = LoadConfig(dir_);
      ASSERT_FALSE(config.ok()) << text;
      EXPECT_STATUS_IS(config, StatusCode::kInvalidArgument);
      EXPECT_NE(config.status().message().find(expected), std::string::npos)
          << text << " → " << config.status().message();
    }
  }

  testing::ScopedTempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
};

TEST_F(ConfigTest, DefaultFileParsesToSecureDefaults) {
  std::filesystem::create_directories(dir_ / "tls");
  std::ofstream(dir_ / "tls" / "ca.crt") << "x";
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443", /*local_ca=*/true));
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->tls_ca, std::filesystem::absolute(dir_) / "tls/ca.crt");
  EXPECT_EQ(config->listen, "127.0.0.1:8443");
  EXPECT_EQ(config->admin_listen, "127.0.0.1:9443");
  EXPECT_EQ(config->api_limits.max_body_bytes, 64ull << 20);
  EXPECT_EQ(config->http_limits.max_header_bytes, 16384u);
  EXPECT_EQ(config->http_limits.read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->Resolve(config->tls_cert), std::filesystem::absolute(dir_) / "tls/server.crt");
  EXPECT_TRUE(config->require_signature);
  // The body budget is derived from the machine unless set; responses are capped.
  EXPECT_EQ(config->api_limits.body_memory_bytes, 0u);
  EXPECT_EQ(config->api_limits.body_memory_principal_percent, 25);
  EXPECT_EQ(config->api_limits.max_response_body_bytes, 64ull << 20);
  // Every principal is rate limited and capped in flight; failed
  // authentications are limited per address.
  EXPECT_EQ(config->guard.principal, (guard::RateLimit{.per_second = 1000, .burst = 1000}));
  EXPECT_EQ(config->guard.concurrency, 64u);
  EXPECT_EQ(config->guard.auth_failures, (guard::RateLimit{.per_second = 5, .burst = 300}));
  EXPECT_TRUE(config->trusted_proxies.empty()) << "no X-Forwarded-For is believed unless configured";
}

TEST_F(ConfigTest, TrustedProxiesAreCidrBlocks) {
  Write("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]\n");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "192.0.2.7"}));
  ExpectRefused({
      {"[server]\ntrusted_proxies = \"10.0.0.0/8\"\n", "server.trusted_proxies: must be an array of strings"},
      {"[server]\ntrusted_proxies = [8]\n", "server.trusted_proxies: must be an array of strings"},
      {"[server]\ntrusted_proxies = [\"10.0.0.1/8\"]\n", "server.trusted_proxies: trusted proxy '10.0.0.1/8'"},
      {"[server]\ntrusted_proxies = [\"proxy.internal\"]\n", "not an IP address or CIDR block"},
  });
}

TEST_F(ConfigTest, CorsOriginsAreCheckedAtLoad) {
  std::filesystem::create_directories(dir_ / "tls");
  std::ofstream(dir_ / "tls" / "ca.crt") << "x";
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443", /*local_ca=*/true));
  auto defaults = LoadConfig(dir_);
  ASSERT_OK(defaults);
  EXPECT_TRUE(defaults->cors_origins.empty()) << "CORS is off unless configured";
  EXPECT_FALSE(defaults->public_model_ready) << "per-model readiness needs a token unless configured";
  Write(
      "[server]\ncors_origins = [\"https://app.example.com\", \"http://localhost:3000\"]\n"
      "public_model_ready = true\n");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->cors_origins, (std::vector<std::string>{"https://app.example.com", "http://localhost:3000"}));
  EXPECT_TRUE(config->public_model_ready);
  ExpectRefused({
      {"[server]\ncors_origins = \"https://a.example\"\n", "server.cors_origins: must be an array of strings"},
      {"[server]\ncors_origins = [\"*\"]\n", "server.cors_origins: CORS origin '*' is not allowed"},
      {"[server]\ncors_origins = [\"https://a.example/app\"]\n", "no path"},
      {"[server]\ncors_origins = [\"http://a.example\"]\n", "allowed only for localhost"},
      {"[server]\npublic_model_ready = \"yes\"\n", "server.public_model_ready"},
  });
}

TEST_F(ConfigTest, GuardLimitsAreReadAndChecked) {
  Write(
      "[limits]\nipv6_source_prefix = 48\n[guard]\nrate = \"600/m\"\nburst = 50\nquota = 100000\nconcurrency = 0\n"
      "auth_failures = \"off\"\n[models.\"slow\"]\nrate = \"2/s\"\n[models.\"fast\"]\ninstances = 1\n");
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->guard.principal, (guard::RateLimit{.per_second = 10, .burst = 50, .quota_per_day = 100000}));
  EXPECT_EQ(config->guard.concurrency, 0u);
  EXPECT_FALSE(config->guard.auth_failures.Limited());
  EXPECT_EQ(config->guard.ipv6_source_prefix, 48);
  ASSERT_EQ(config->guard.models.size(), 1u) << "only models with a rate of their own";
  EXPECT_EQ(config->guard.models.at("slow"), (guard::RateLimit{.per_second = 2, .burst = 2}));
  ExpectRefused({
      {"[guard]\nrate = \"fast\"\n", "guard.rate: rate \"fast\" is not N/s, N/m, N/h or off"},
      {"[guard]\nrate = 10\n", "guard.rate: must be a string"},
      {"[guard]\nburst = 0\n", "guard.burst: must be between 1 and"},
      {"[guard]\nrate = \"off\"\nburst = 5\n", "guard.burst: needs a rate (rate is off)"},
      {"[guard]\nquota = -1\n", "guard.quota: must be between"},
      {"[guard]\nconcurrency = 2000000\n", "guard.concurrency: must be between"},
      {"[guard]\nauth_failures = \"5/d\"\n", "guard.auth_failures: rate \"5/d\""},
      {"[guard]\nspeed = 1\n", "guard.speed: unknown key"},
      {"[models.\"m\"]\nrate = \"1/x\"\n", "models.\"m\".rate: rate \"1/x\""},
      {"[models.\"m\"]\nburst = 3\n", "models.\"m\".burst: needs a rate"},
  });
}

TEST_F(ConfigTest, TheMetricsListenerIsOffUnlessConfiguredAndChecked) {
  Write("");
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->metrics_listen.empty()) << "no dedicated listener by default";
  std::ofstream(dir_ / "scrapers.pem") << "x";
  Write("[metrics]\nlisten = \"127.0.0.1:9464\"\nclient_ca = \"scrapers.pem\"\n");
  config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(config->metrics_client_ca, std::filesystem::absolute(dir_) / "scrapers.pem");
  ExpectRefused({
      {"[metrics]\nlisten = \"9464\"\n", "metrics.listen: "},
      {"[metrics]\nlisten = \"localhost:99999\"\n", "metrics.listen: "},
      {"[metrics]\nlisten = \"\"\n", "metrics.listen: must not be empty"},
      {"[metrics]\nclient_ca = \"scrapers.pem\"\n", "metrics.client_ca: needs metrics.listen"},
      {"[metrics]\nlisten = \"127.0.0.1:9464\"\nclient_ca = \"nope.pem\"\n", "metrics.client_ca: '"},
      {"[metrics]\nport = 1\n", "metrics.port: unknown key"},
  });
}

TEST_F(ConfigTest, IncidentResponseAndAlertsAreReadAndChecked) {
  using incident::IncidentKind;
  using incident::ResponseAction;
  const auto actions = [](const Config& c, IncidentKind kind) { return c.playbooks.For(kind); };
  // Without a receiver: the defaults, and no "alert" in them.
  Write("[guard]\nrate = \"10/s\"\n");
  auto plain = LoadConfig(dir_);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(actions(*plain, IncidentKind::kExtraction), std::vector{ResponseAction::kSuspend});
  EXPECT_TRUE(actions(*plain, IncidentKind::kBruteForce).empty());
  EXPECT_FALSE(plain->alerts.has_value());
  // With one: every kind alerts first; a kind set in [guard.response] is exactly what it lists.
  std::ofstream(dir_ / "alerts.token") << "tok\n";
  ::chmod((dir_ / "alerts.token").c_str(), 0600);
  Write(
      "[guard.alerts]\nwebhook_url = \"https://am.example:9093/hook\"\ntoken_file = \"alerts.token\"\n"
      "receiver = \"sec-team\"\n[guard.response]\nrate_abuse = [\"throttle\", \"alert\"]\nintegrity = []\n"
      "throttle_rate = \"30/m\"\n");
  auto alerting = LoadConfig(dir_);
  ASSERT_TRUE(alerting.ok()) << alerting.status().message();
  ASSERT_TRUE(alerting->alerts.has_value());
  EXPECT_EQ(alerting->alerts->format, audit::WebhookFormat::kAlertmanager);
  EXPECT_EQ(alerting->alerts->receiver, "sec-team");
  EXPECT_EQ(alerting->alerts->bearer_token, "tok");
  EXPECT_EQ(actions(*alerting, IncidentKind::kExtraction),
            (std::vector{ResponseAction::kAlert, ResponseAction::kSuspend}));
  EXPECT_EQ(actions(*alerting, IncidentKind::kBruteForce), std::vector{ResponseAction::kAlert});
  EXPECT_EQ(actions(*alerting, IncidentKind::kRateAbuse),
            (std::vector{ResponseAction::kThrottle, ResponseAction::kAlert}));
  EXPECT_TRUE(actions(*alerting, IncidentKind::kIntegrity).empty());
  EXPECT_EQ(alerting->throttle_limit, (guard::RateLimit{.per_second = 0.5, .burst = 30}));
  ExpectRefused({
      {"[guard.response]\nextraction = [\"alert\"]\n", "guard.response.extraction: \"alert\" needs a receiver"},
      {"[guard.response]\nextraction = [\"page\"]\n", "guard.response.extraction: actions are"},
      {"[guard.response]\nextraction = \"suspend\"\n", "guard.response.extraction: must be a list"},
      {"[guard.response]\nextraction = [\"suspend\", \"suspend\"]\n", "lists \"suspend\" twice"},
      {"[guard.response]\nmodel_theft = []\n", "guard.response.model_theft: unknown key"},
      {"[guard.response]\nthrottle_rate = \"off\"\n", "guard.response.throttle_rate: must be a rate"},
      {"[guard.alerts]\nreceiver = \"x\"\n", "guard.alerts.webhook_url: is required"},
      {"[guard.alerts]\nwebhook_url = \"http://am.example/\"\n", "guard.alerts.webhook_url: must be an https://"},
      {"[guard.alerts]\nwebhook_url = \"https://u:p@am.example/\"\n", "must not carry credentials"},
      {"[guard.alerts]\nwebhook_url = \"https://am.example/\"\nreceiver = \"a\\\"b\"\n",
       "guard.alerts.receiver: must be at most 128"},
      {"[guard]\nalerts = 1\n", "guard.alerts: must be a table"},
  });
}

TEST_F(ConfigTest, MemoryLimitsAreReadAndChecked) {
  Write(
      "[limits]\nmax_body_bytes = 4096\nbody_memory_bytes = 1048576\nbody_memory_principal_percent = 10\n"
      "max_response_body_bytes = 8192\n[models.\"big\"]\nmax_response_body_bytes = 1073741824\n");
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->api_limits.body_memory_bytes, 1048576u);
  EXPECT_EQ(config->api_limits.body_memory_principal_percent, 10);
  EXPECT_EQ(config->api_limits.ResponseLimitFor("big"), 1073741824u);
  EXPECT_EQ(config->api_limits.ResponseLimitFor("other"), 8192u);
  ExpectRefused({
      {"[limits]\nbody_memory_bytes = 1048576\n",
       "limits.body_memory_bytes: must be 0 (derived from the machine's "
       "memory) or at least max_body_bytes (67108864)"},
      {"[limits]\nbody_memory_principal_percent = 0\n", "limits.body_memory_principal_percent: must be between"},
      {"[limits]\nmax_response_body_bytes = 10\n", "limits.max_response_body_bytes: must be between"},
      {"[models.\"m\"]\nmax_response_body_bytes = -1\n", "models.\"m\".max_response_body_bytes: must be between"},
  });
}

TEST_F(ConfigTest, OutputPolicyIsPerModelAndDefaultsToFull) {
  Write(
      "[models.\"a\"]\noutput_policy = \"top_k:3\"\nmax_response_body_bytes = 8192\n"
      "[models.\"b\"]\noutput_policy = \"label\"\n[models.\"c\"]\ninstances = 2\n");
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  const api::ApiLimits& limits = config->api_limits;
  EXPECT_EQ(limits.ModelSettings("a").output_policy, (guard::OutputPolicy{guard::OutputPolicy::Kind::kTopK, 3}));
  EXPECT_EQ(limits.ResponseLimitFor("a"), 8192u);
  EXPECT_EQ(limits.ModelSettings("b").output_policy.kind, guard::OutputPolicy::Kind::kLabel);
  EXPECT_EQ(limits.ResponseLimitFor("b"), limits.max_response_body_bytes);
  EXPECT_TRUE(limits.ModelSettings("c").output_policy.IsFull());
  EXPECT_TRUE(limits.ModelSettings("unlisted").output_policy.IsFull());
  ExpectRefused({
      {"[models.\"fraud\"]\noutput_policy = \"top_k:0\"\n",
       "models.\"fraud\".output_policy: \"top_k:0\": must be \"full\", \"label\", \"top_k:N\" (N from 1 to 1000)"},
      {"[models.\"m\"]\noutput_policy = \"round:9\"\n", "models.\"m\".output_policy: \"round:9\": must be"},
      {"[models.\"m\"]\noutput_policy = 3\n", "models.\"m\".output_policy: must be a string"},
      {"[models.\"m\"]\noutput_policy = \"\"\n", "models.\"m\".output_policy: must not be empty"},
      // A value that would break the one-line error is shown escaped.
      {"[models.\"m\"]\noutput_policy = \"top_k:3\\nlabel\"\n",
       "models.\"m\".output_policy: \"top_k:3\\x0alabel\": must be"},
  });
}

TEST_F(ConfigTest, ScreeningIsPerModelAndDefaultsToFlag) {
  Write(
      "[models.\"a\"]\nscreening = \"refuse\"\nscreening_sigma = 4.5\nscreening_range_margin = 0\n"
      "screening_score = 3\n[models.\"b\"]\nscreening = \"off\"\n");
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  const api::ApiLimits& limits = config->api_limits;
  EXPECT_EQ(limits.ModelSettings("a").screening,
            (guard::ScreeningSettings{guard::ScreeningMode::kRefuse, 4.5, 0.0, 3.0}));
  EXPECT_EQ(limits.ModelSettings("b").screening.mode, guard::ScreeningMode::kOff);
  EXPECT_EQ(limits.ModelSettings("unlisted").screening, guard::ScreeningSettings{});
  EXPECT_EQ(guard::ScreeningSettings{}.mode, guard::ScreeningMode::kFlag);
  ExpectRefused({
      {"[models.\"m\"]\nscreening = \"block\"\n",
       "models.\"m\".screening: \"block\": must be \"off\", \"flag\" or \"refuse\""},
      {"[models.\"m\"]\nscreening_sigma = 0\n", "models.\"m\".screening_sigma: must be a number between"},
      {"[models.\"m\"]\nscreening_sigma = nan\n", "models.\"m\".screening_sigma: must be a number between"},
      {"[models.\"m\"]\nscreening_range_margin = -0.1\n", "models.\"m\".screening_range_margin: must be"},
      {"[models.\"m\"]\nscreening_score = 0.5\n", "models.\"m\".screening_score: must be a number between"},
      {"[models.\"m\"]\nscreening_score = \"2\"\n", "models.\"m\".screening_score: must be a number"},
  });
}

TEST_F(ConfigTest, OverridesAreApplied) {
  Write(
      "[limits]\nmax_body_bytes = 4096\nread_timeout_seconds = 2\n[runtime]\ninstances_per_model = 3\n"
      "[registry]\nrequire_signature = false\n");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->api_limits.max_body_bytes, 4096u);
  EXPECT_EQ(config->http_limits.read_timeout, std::chrono::seconds(2));
  EXPECT_EQ(config->runtime.instances, 3);
  EXPECT_FALSE(config->require_signature);
}

TEST_F(ConfigTest, RefusesTyposWrongTypesAndOutOfRangeValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[limits]\nmax_body_byte = 10\n", "limits.max_body_byte: unknown key"},
      {"[limit]\nmax_body_bytes = 10\n", "limit: unknown section"},
      {"[limits]\nmax_body_bytes = \"big\"\n", "limits.max_body_bytes: must be an integer"},
      {"[limits]\nread_timeout_seconds = 0\n", "limits.read_timeout_seconds: must be between"},
      {"[limits]\nhandshake_timeout_seconds = 0\n", "limits.handshake_timeout_seconds: must be between 1 and 300"},
      {"[limits]\nmax_connections_per_source = 0\n", "limits.max_connections_per_source: must be between"},
      {"[limits]\nipv6_source_prefix = 129\n", "limits.ipv6_source_prefix: must be between 1 and 128"},
      // Beast throws on a header field of 64 KiB: the head stays below that.
      {"[limits]\nmax_header_bytes = 49153\n", "limits.max_header_bytes: must be between 1024 and 49152"},
      {"[server]\nlisten = 8443\n", "server.listen: must be a string"},
      {"[registry]\nrequire_signature = \"no\"\n", "registry.require_signature: must be true or false"},
      {"[registry]\nrequire_signatures = false\n", "registry.require_signatures: unknown key"},
      {"[store]\nurl = \"postgresql://db.example/aegis\"\n", "store.url: must set sslmode=verify-full"},
      {"[store]\nurl = \"postgresql://u:pw@db.example/aegis?sslmode=verify-full\"\n",
       "store.url: must not contain a password"},
      {"[store]\nurl = \"sqlite:///tmp/x\"\n", "store.url: must be a postgresql:// URL"},
      {"[store]\nhost = \"db\"\n", "store.host: unknown key"},
      {"[server\nlisten = 1\n", "aegis.toml:1"},
  };
  ExpectRefused(cases);
}

// [tls] ca: init names its own CA; with the operator's own certificate the line
// stays commented out (there is no tls/ca.crt), and a named file must exist.
TEST_F(ConfigTest, TlsCaIsOptionalButMustExistWhenNamed) {
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443", /*local_ca=*/false));
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->tls_ca.empty());
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443", /*local_ca=*/true));
  config = LoadConfig(dir_);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("tls.ca: '" + (std::filesystem::absolute(dir_) / "tls/ca.crt").string() +
                                           "' is not a readable file"),
            std::string::npos)
      << config.status().message();
  std::filesystem::create_directories(dir_ / "ca-dir");
  ExpectRefused({{"[tls]\nca = \"ca-dir\"\n", "tls.ca: "}, {"[tls]\nca = \"\"\n", "tls.ca: must not be empty"}});
}

TEST_F(ConfigTest, IdentitySectionsAreRead) {
  Write(R"([tls]
client_ca = "tls/clients.crt"
require_client_cert = true

[auth.jwt]
issuer = "https://idp.example"
audience = "aegis"
jwks_file = "jwks.json"
models_claim = "aegis_models"
leeway_seconds = 30
[auth.jwt.role_map]
"ml-readers" = "consumer"

[[auth.mtls]]
subject = "CN=scorer,O=Acme"
role = "consumer"
models = "fraud-*"

[[auth.mtls]]
san = "URI:spiffe://acme/ci"
role = "deployer"
)");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->tls_client_ca, std::filesystem::absolute(dir_) / "tls/clients.crt");
  EXPECT_TRUE(config->require_client_cert);
  ASSERT_TRUE(config->jwt);
  EXPECT_EQ(config->jwt->verifier.issuer, "https://idp.example");
  EXPECT_EQ(config->jwt->verifier.roles_claim, "roles");
  EXPECT_EQ(config->jwt->verifier.models_claim, "aegis_models");
  EXPECT_EQ(config->jwt->verifier.leeway, std::chrono::seconds(30));
  EXPECT_EQ(config->jwt->verifier.role_map.at("ml-readers"), "consumer");
  EXPECT_EQ(config->jwt->jwks_file, std::filesystem::absolute(dir_) / "jwks.json");
  ASSERT_EQ(config->client_identities.size(), 2u);
  EXPECT_EQ(config->client_identities[0].subject, "CN=scorer,O=Acme");
  EXPECT_EQ(config->client_identities[0].grant.Describe(), "consumer:fraud-*");
  EXPECT_EQ(config->client_identities[1].san, "URI:spiffe://acme/ci");
  EXPECT_EQ(config->client_identities[1].grant.Describe(), "deployer:*");
}

TEST_F(ConfigTest, NoIdentitySectionsMeansTokensAndSessionsOnly) {
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443", /*local_ca=*/false));
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_FALSE(config->jwt);
  EXPECT_TRUE(config->client_identities.empty());
  EXPECT_TRUE(config->tls_client_ca.empty());
}

TEST_F(ConfigTest, RefusesBadIdentitySections) {
  const std::string jwt = "[auth.jwt]\nissuer = \"i\"\naudience = \"a\"\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[auth]\nldap = 1\n", "auth.ldap: unknown key"},
      {"[auth.jwt]\naudience = \"a\"\njwks_file = \"j\"\n", "auth.jwt.issuer: is required"},
      {jwt, "set exactly one of jwks_file and jwks_url"},
      {jwt + "jwks_file = \"j\"\njwks_url = \"https://x/j\"\n", "set exactly one"},
      {jwt + "jwks_url = \"http://idp/jwks\"\n", "auth.jwt.jwks_url: must be an https:// URL"},
      {jwt + "jwks_file = \"j\"\nleeway_seconds = 3600\n", "auth.jwt.leeway_seconds: must be between"},
      {jwt + "jwks_file = \"j\"\nalgorithms = [\"HS256\"]\n", "auth.jwt.algorithms: unknown key"},
      {jwt + "jwks_file = \"j\"\n[auth.jwt.role_map]\nops = \"root\"\n", "auth.jwt.role_map.ops: unknown role"},
      {"[tls]\nrequire_client_cert = true\n", "tls.require_client_cert: needs tls.client_ca"},
      {"[tls]\nclient_ca = \"c\"\n[[auth.mtls]]\nrole = \"consumer\"\n", "set exactly one of subject and san"},
      {"[tls]\nclient_ca = \"c\"\n[[auth.mtls]]\nsubject = \"CN=a\"\nsan = \"DNS:a\"\nrole = \"consumer\"\n",
       "set exactly one of subject and san"},
      {"[tls]\nclient_ca = \"c\"\n[[auth.mtls]]\nsubject = \"CN=a\"\n", "auth.mtls[0].role: is required"},
      {"[tls]\nclient_ca = \"c\"\n[[auth.mtls]]\nsubject = \"CN=a\"\nrole = \"admin\"\nmodels = \"x*\"\n",
       "applies to every model"},
      {"[[auth.mtls]]\nsubject = \"CN=a\"\nrole = \"consumer\"\n", "certificate identities need tls.client_ca"},
      {"[tls]\nclient_ca = \"c\"\n[[auth.mtls]]\nsan = \"FTP:a\"\nrole = \"consumer\"\n", "auth.mtls[0].san: must be"},
      {"[tls]\nclient_ca = \"c\"\n[[auth.mtls]]\nsan = \"DNS:\"\nrole = \"consumer\"\n", "auth.mtls[0].san: must be"},
  };
  ExpectRefused(cases);
}

TEST_F(ConfigTest, AuditSinksAreReadWithSecureDefaults) {
  std::ofstream(dir_ / "ca.pem") << "x";
  std::ofstream(dir_ / "siem.token") << "tok-123\n";
  ::chmod((dir_ / "siem.token").c_str(), 0600);
  Write(R"([audit.syslog]
address = "siem.example:6514"
ca = "ca.pem"

[audit.webhook]
url = "https://siem.example/ingest"
token_file = "siem.token"
batch_size = 50
)");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  ASSERT_TRUE(config->syslog.has_value());
  EXPECT_EQ(config->syslog->host, "siem.example");
  EXPECT_EQ(config->syslog->port, 6514);
  EXPECT_EQ(config->syslog->transport, audit::SyslogTransportKind::kTls);  // encrypted unless asked otherwise
  EXPECT_EQ(config->syslog->facility, 10);
  EXPECT_EQ(config->syslog->max_message_bytes, 2048u);
  EXPECT_EQ(config->syslog->ca_file, std::filesystem::absolute(dir_) / "ca.pem");
  ASSERT_TRUE(config->webhook.has_value());
  EXPECT_EQ(config->webhook->bearer_token, "tok-123");
  EXPECT_EQ(config->webhook->batch_size, 50u);
  EXPECT_EQ(config->webhook->queue_size, 10000u);

  Write(
      "[audit.syslog]\naddress = \"10.0.0.5:514\"\ntransport = \"udp\"\nallow_plaintext = true\n"
      "facility = \"local3\"\nmax_message_bytes = 480\n");
  config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->syslog->facility, 19);
  EXPECT_FALSE(config->webhook.has_value());
}

TEST_F(ConfigTest, RefusesBadAuditSinks) {
  std::ofstream(dir_ / "open.token") << "tok";
  ::chmod((dir_ / "open.token").c_str(), 0644);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[audit.syslog]\ntransport = \"udp\"\n", "audit.syslog.address: is required"},
      {"[audit.syslog]\naddress = \"siem:514\"\ntransport = \"udp\"\n", "audit.syslog.address: plaintext udp"},
      {"[audit.syslog]\naddress = \"192.0.2.1:514\"\ntransport = \"tcp\"\n", "allow_plaintext = true"},
      {"[audit.syslog]\naddress = \"127.0.0.1\"\n", "audit.syslog.address: bad address"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\ntransport = \"relp\"\n", "audit.syslog.transport"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\nfacility = \"kern\"\n", "audit.syslog.facility"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\napp_name = \"a b\"\n", "audit.syslog.app_name"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\nca = \"missing.pem\"\n", "audit.syslog.ca: "},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\ntransport = \"udp\"\nca = \"x\"\n", "audit.syslog.ca: applies"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\ntransport = \"udp\"\nmax_message_bytes = 65508\n",
       "audit.syslog.max_message_bytes"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\nmax_message_bytes = 100\n", "audit.syslog.max_message_bytes"},
      {"[audit.syslog]\naddress = \"127.0.0.1:514\"\nbogus = 1\n", "audit.syslog.bogus: unknown key"},
      {"[audit.webhook]\nurl = \"http://siem/\"\n", "audit.webhook.url: must be an https:// URL"},
      {"[audit.webhook]\nurl = \"https://a:b@siem/\"\n", "audit.webhook.url"},
      {"[audit.webhook]\nbatch_size = 5\n", "audit.webhook.url: is required"},
      {"[audit.webhook]\nurl = \"https://siem/\"\ntoken_file = \"open.token\"\n",
       "audit.webhook.token_file: '" + (std::filesystem::absolute(dir_) / "open.token").string() + "' must be"},
      {"[audit.webhook]\nurl = \"https://siem/\"\nbatch_size = 0\n", "audit.webhook.batch_size"},
      {"[audit.webhook]\nurl = \"https://siem/\"\ntimeout_seconds = 0\n", "audit.webhook.timeout_seconds"},
      {"[audit.webhook]\nurl = \"https://siem/\"\ntoken = \"x\"\n", "audit.webhook.token: unknown key"},
      {"[audit]\nsyslog = 1\n", "audit.syslog: must be a table"},
      {"[audit.kafka]\nx = 1\n", "audit.kafka: unknown key"},
      {"[audit]\nverify_interval_seconds = 0\n", "audit.verify_interval_seconds"},
      {"[audit]\nsegment_max_bytes = 100\n", "audit.segment_max_bytes"},
  };
  ExpectRefused(cases);
}

TEST_F(ConfigTest, AuditLogSettingsAreReadAndDefaultToFiveMinuteVerification) {
  Write("[audit]\nsegment_max_bytes = 1048576\nverify_interval_seconds = 600\n");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->audit_segment_max_bytes, 1048576u);
  EXPECT_EQ(config->audit_verify_interval.count(), 600);
  const Config defaults;
  EXPECT_EQ(defaults.audit_verify_interval.count(), 300);
  EXPECT_FALSE(defaults.audit_summarize_inferences);  // "all" by default
}

TEST_F(ConfigTest, InferenceEventsIsAllOrSummary) {
  Write("[audit]\ninference_events = \"summary\"\n");
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_TRUE(config->audit_summarize_inferences);
  Write("[audit]\ninference_events = \"all\"\n");
  config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_FALSE(config->audit_summarize_inferences);
  Write("[audit]\ninference_events = \"some\"\n");
  config = LoadConfig(dir_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("audit.inference_events: must be \"all\""), std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, ArchiveDirIsOffByDefaultAndCheckedAtLoad) {
  EXPECT_TRUE(Config{}.audit_archive_dir.empty()) << "the server archives only when told where";
  namespace fs = std::filesystem;
  const fs::path outside = dir_ / "cold";  // the data folder itself may hold it, outside audit/
  const auto archive = [](const fs::path& dir, const std::string& after) {
    return "[audit]\narchive_dir = \"" + dir.string() + "\"\narchive_after_days = " + after + "\n";
  };
  // Missing with an existing parent: accepted (the server creates it 0700).
  Write(archive(outside, "30"));
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->audit_archive_dir, outside);
  EXPECT_EQ(config->audit_archive_after_days, 30);
  // Existing and private: accepted.
  fs::create_directory(outside);
  fs::permissions(outside, fs::perms::owner_all, fs::perm_options::replace);
  ASSERT_OK(LoadConfig(dir_));

  fs::create_directories(dir_ / "audit" / "sub");
  fs::create_directory(dir_ / "open");
  fs::permissions(dir_ / "open", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                  fs::perm_options::replace);
  std::ofstream(dir_ / "file") << "x";
  ExpectRefused({
      {archive("cold", "30"), "audit.archive_dir: must be an absolute path"},
      {archive(dir_ / "audit", "30"), "is inside the live audit log"},
      {archive(dir_ / "audit" / "sub", "30"), "is inside the live audit log"},
      {archive(dir_ / "x" / ".." / "audit" / "new", "30"), "is inside the live audit log"},
      {archive(dir_ / "open", "30"), "readable or writable by others: chmod 700 it"},
      {archive(dir_ / "file", "30"), "is not a directory"},
      {archive(dir_ / "no" / "such", "30"), "does not exist and its parent is not a directory"},
      {archive(outside, "0"), "audit.archive_after_days"},
      {archive(outside, "1.5"), "audit.archive_after_days"},
      {"[audit]\narchive_dir = \"" + outside.string() + "\"\n", "set archive_dir and archive_after_days together"},
      {"[audit]\narchive_after_days = 3\n", "set archive_dir and archive_after_days together"},
  });
}

TEST_F(ConfigTest, LoggingDefaultsToTextAtInfoWithoutAnAccessLog) {
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443", /*local_ca=*/false));
  auto config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->logging.level, log::Level::kInfo);
  EXPECT_EQ(config->logging.format, log::Format::kText);
  EXPECT_EQ(config->logging.access_log, "") << "the access log is off unless configured";
  Write("[logging]\nlevel = \"debug\"\nformat = \"json\"\naccess_log = \"logs/access.log\"\n");
  config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->logging.level, log::Level::kDebug);
  EXPECT_EQ(config->logging.format, log::Format::kJson);
  EXPECT_EQ(config->logging.access_log, (std::filesystem::absolute(dir_) / "logs/access.log").string());
  Write("[logging]\naccess_log = \"-\"\n");
  config = LoadConfig(dir_);
  ASSERT_OK(config);
  EXPECT_EQ(config->logging.access_log, "-");
  ExpectRefused({{"[logging]\nlevel = \"verbose\"\n", "logging.level: 'verbose' is not trace, debug, info"},
                 {"[logging]\nformat = \"xml\"\n", "logging.format: 'xml' is not text or json"},
                 {"[logging]\naccess_log = \"\"\n", "logging.access_log"},
                 {"[logging]\nlevl = \"info\"\n", "logging.levl: unknown key"}});
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  auto config = LoadConfig(dir_ / "nope");
  ASSERT_FALSE(config.ok());
  EXPECT_STATUS_IS(config, StatusCode::kNotFound);
}

}  // namespace
}  // namespace aegis::cli
