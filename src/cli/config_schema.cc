#include "config_schema.h"

#include <cstdlib>

namespace aegis::cli::internal {

const std::map<std::string, std::set<std::string>>& ConfigSchema() {
  static const std::map<std::string, std::set<std::string>> schema = {
      {"",
       {"server", "limits", "guard", "runtime", "models", "registry", "store", "tls", "auth", "audit", "metrics",
        "logging"}},
      {"store", {"url"}},
      {"logging", {"level", "format", "access_log"}},
      {"metrics", {"listen", "client_ca"}},
      {"guard",
       {"rate", "burst", "quota", "concurrency", "auth_failures", "max_tracked", "extraction", "extraction_threshold",
        "extraction_min_queries", "extraction_window", "extraction_max_rows_per_day", "extraction_max_tracked",
        "response", "alerts"}},
      {"guard.response",
       {"rate_abuse", "brute_force", "out_of_distribution", "extraction", "integrity", "engine_crash", "audit",
        "throttle_rate"}},
      {"guard.alerts", {"webhook_url", "ca_file", "token_file", "receiver", "queue_size", "timeout_seconds"}},
      {"server",
       {"listen", "admin_listen", "io_threads", "worker_threads", "drain_timeout_seconds", "required_models",
        "trusted_proxies", "public_model_ready", "cors_origins"}},
      {"limits",
       {"max_body_bytes", "max_model_bytes", "max_header_bytes", "read_timeout_seconds", "write_timeout_seconds",
        "idle_timeout_seconds", "handshake_timeout_seconds", "first_byte_timeout_seconds", "max_connections",
        "max_connections_per_source", "ipv6_source_prefix", "body_memory_bytes", "body_memory_principal_percent",
        "max_response_body_bytes"}},
      {"runtime",
       {"isolation", "instances_per_model", "memory_limit_mb", "request_timeout_ms", "queue_timeout_ms", "max_queued",
        "max_request_bytes", "max_response_bytes", "load_timeout_seconds", "max_failures", "failure_window_seconds",
        "onnx_engine", "onnxruntime_dir"}},
      // [models."NAME"]: one table per model name ("*"), each with these keys.
      {"models", {"*"}},
      {"models.*",
       {"instances", "memory_limit_mb", "request_timeout_ms", "max_response_body_bytes", "engine", "output_policy",
        "rate", "burst", "extraction", "extraction_threshold", "extraction_min_queries", "extraction_window",
        "extraction_max_rows_per_day", "screening", "screening_sigma", "screening_range_margin", "screening_score"}},
      {"registry", {"require_signature"}},
      {"tls", {"cert", "key", "ca", "client_ca", "require_client_cert"}},
      {"auth", {"jwt", "mtls"}},
      {"auth.jwt",
       {"issuer", "audience", "jwks_file", "jwks_url", "jwks_ca", "roles_claim", "models_claim", "leeway_seconds",
        "role_map"}},
      {"auth.mtls", {"subject", "san", "role", "models"}},
      {"audit",
       {"syslog", "webhook", "segment_max_bytes", "verify_interval_seconds", "inference_events", "retention_days",
        "archive_dir", "archive_after_days"}},
      {"audit.syslog",
       {"address", "transport", "ca", "cert", "key", "facility", "app_name", "max_message_bytes", "queue_size",
        "allow_plaintext"}},
      {"audit.webhook", {"url", "ca", "token_file", "batch_size", "queue_size", "timeout_seconds"}},
  };
  return schema;
}

const std::set<std::string>& KeysOf(const std::string& table) {
  const auto& schema = ConfigSchema();
  auto it = schema.find(table);
  if (it == schema.end()) std::abort();  // a loader asked for a table it forgot to list: a programming error
  return it->second;
}

}  // namespace aegis::cli::internal
