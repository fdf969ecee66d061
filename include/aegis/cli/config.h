// Config: DIR/aegis.toml, the one configuration file of an installation.
//
// Unknown sections or keys are errors: a typo must never silently fall back to a
// default. Relative paths are relative to the data directory.
//
// Thread-safety: value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aegis/api/services.h"
#include "aegis/audit/syslog_sink.h"
#include "aegis/audit/webhook_sink.h"
#include "aegis/auth/authenticator.h"
#include "aegis/auth/jwt.h"
#include "aegis/common/log.h"
#include "aegis/common/status.h"
#include "aegis/guard/extraction_detector.h"
#include "aegis/guard/request_guard.h"
#include "aegis/http/server.h"
#include "aegis/http/trusted_proxies.h"
#include "aegis/incident/incidents.h"
#include "aegis/registry/registry.h"
#include "aegis/runtime/model_instances.h"

namespace aegis::cli {

// [auth.jwt]: bearer JWTs from an OIDC provider, keys from a file or a URL.
struct JwtSettings {
  auth::JwtConfig verifier;
  std::filesystem::path jwks_file;  // exactly one of jwks_file / jwks_url
  std::string jwks_url;             // https:// only; fetched at start and every 5 minutes
  std::filesystem::path jwks_ca;    // CA bundle to verify jwks_url (system store when empty)
};

// The guard stage's defaults (docs/threat-detection.md says why these): every
// principal 1000 requests a second (a burst of 1000) and 64 in flight; a
// source address 300 failed authentications a minute.
inline guard::GuardOptions DefaultGuard() {
  guard::GuardOptions o;
  o.principal = {.per_second = 1000, .burst = 1000};
  o.concurrency = 64;
  o.auth_failures = {.per_second = 5, .burst = 300};
  return o;
}

// What a playbook's "throttle" lowers a principal to: 60 requests a minute
// (a burst of 60) — enough for an operator's own checks through the credential,
// a thousandth of what a busy client gets by default.
inline guard::RateLimit DefaultThrottle() { return {.per_second = 1, .burst = 60}; }

// The runtime defaults of a new installation: two workers per model version.
inline runtime::RuntimeOptions DefaultRuntime() {
  runtime::RuntimeOptions o;
  o.instances = 2;
  return o;
}

// [logging]: the server log and the access log (docs/operations.md, "Logs").
// All three can change with SIGHUP.
struct LoggingSettings {
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  // One JSON line per HTTP request: "" off, "-" standard error, else a file
  // (resolved against the data directory).
  std::string access_log;
};

struct Config {
  std::filesystem::path data_dir;
  std::string listen = "127.0.0.1:8443";
  std::string admin_listen = "127.0.0.1:9443";
  http::ServerOptions server;
  // [server] required_models: what readiness waits for besides loading having
  // finished (RegistryOptions::required_models).
  std::vector<std::string> required_models;
  // [server] trusted_proxies: CIDR blocks, checked by http::TrustedProxies::Parse at load.
  std::vector<std::string> trusted_proxies;
  // [server] public_model_ready: api::DataPlaneOptions::public_model_ready.
  bool public_model_ready = false;
  // [server] cors_origins: browser origins the data plane answers CORS for,
  // checked by api::CorsPolicy::Parse at load (empty: CORS off).
  std::vector<std::string> cors_origins;
  http::Limits http_limits;
  api::ApiLimits api_limits;
  guard::GuardOptions guard = DefaultGuard();  // [guard], and rate/burst of [models."NAME"]
  // [guard.response]: the actions per incident kind (DefaultPlaybooks unless
  // set; "alert" added to the defaults when [guard.alerts] is), and the rate a
  // "throttle" lowers a principal to.
  incident::Playbooks playbooks = incident::Playbooks::Defaults();
  guard::RateLimit throttle_limit = DefaultThrottle();
  std::optional<audit::WebhookOptions> alerts;  // [guard.alerts]: the Alertmanager webhook
  // [guard] extraction* keys, and the same keys of [models."NAME"].
  guard::ExtractionOptions extraction;
  // [runtime] and [models."NAME"]: how model code runs (docs/confinement.md).
  runtime::RuntimeOptions runtime = DefaultRuntime();
  std::map<std::string, registry::ModelRuntimeOverrides, std::less<>> models;
  bool require_signature = true;  // [registry]
  // [store] url: empty keeps the embedded SQLite store under DIR/db; a
  // postgresql:// URL keeps the shared state in PostgreSQL (docs/scale-out.md).
  std::string store_url;
  std::filesystem::path tls_cert = "tls/server.crt";
  std::filesystem::path tls_key = "tls/server.key";
  std::filesystem::path tls_ca;         // [tls] ca, resolved: empty = the chain is not checked at start
  std::filesystem::path tls_client_ca;  // [tls] client_ca: empty = no mutual TLS
  bool require_client_cert = false;
  std::optional<JwtSettings> jwt;                           // [auth.jwt]
  std::vector<auth::CertificateMapping> client_identities;  // [[auth.mtls]]
  // SIEM sinks; paths resolved, the webhook token read. on_drop is left for serve.
  uint64_t audit_segment_max_bytes = 64ull << 20;   // [audit] segment_max_bytes
  std::chrono::seconds audit_verify_interval{300};  // [audit] verify_interval_seconds
  bool audit_summarize_inferences = false;          // [audit] inference_events = "summary" ("all" = false)
  int64_t audit_retention_days = 0;                 // [audit] retention_days: 0 = archived segments stay live
  std::filesystem::path audit_archive_dir;          // [audit] archive_dir: empty = the server does not archive
  int64_t audit_archive_after_days = 0;             // [audit] archive_after_days (with archive_dir)
  std::optional<audit::SyslogOptions> syslog;       // [audit.syslog]
  std::optional<audit::WebhookOptions> webhook;     // [audit.webhook]
  // [metrics]: the dedicated scrape listener (GET /metrics without a token),
  // off while `listen` is empty; with `client_ca` (resolved) a client must
  // present a certificate from that CA in the TLS handshake.
  std::string metrics_listen;
  std::filesystem::path metrics_client_ca;
  LoggingSettings logging;  // [logging]

  std::filesystem::path Resolve(const std::filesystem::path& p) const { return p.is_absolute() ? p : data_dir / p; }
};

// Parses DIR/aegis.toml. InvalidArgument naming the file, key and problem.
StatusOr<Config> LoadConfig(const std::filesystem::path& data_dir);

// The file `aegis init` writes: every key with its default, commented. With
// `local_ca`, [tls] ca names the CA that init created (tls/ca.crt); without
// (the operator's own certificate), that line is left commented out. A
// non-empty `store_url` is written as [store] url.
std::string RenderDefaultConfig(const std::string& listen, const std::string& admin_listen, bool local_ca,
                                const std::string& store_url = "");

}  // namespace aegis::cli
