#include "aegis/cli/config.h"

#include <sstream>
#include <system_error>

#include <toml++/toml.h>

#include "aegis/api/cors_policy.h"
#include "aegis/common/file_util.h"
#include "aegis/http/host_port.h"
#include "aegis/store/metadata_store.h"
#include "audit_config.h"
#include "auth_config.h"
#include "config_schema.h"
#include "guard_config.h"
#include "runtime_config.h"
#include "toml_table.h"

namespace aegis::cli {
namespace {

// Where `aegis init` puts the CA it creates.
constexpr const char* kLocalCa = "tls/ca.crt";

// The main sections: each key read by a TableReader over its section.
class Reader {
 public:
  Reader(const toml::table& root, std::string file) : root_(root), file_(std::move(file)) {}

  Status CheckKnownKeys() const {
    for (const auto& [section, node] : root_) {
      const std::string name(section.str());
      if (!internal::KeysOf("").contains(name))
        return Status::InvalidArgument(file_ + ": " + name + ": unknown section");
      if (!node.is_table()) return Status::InvalidArgument(file_ + ": " + name + ": must be a table");
      // [models."NAME"] has a table per model name, checked by LoadRuntimeConfig.
      if (internal::KeysOf(name).contains("*")) continue;
      AEGIS_RETURN_IF_ERROR(
          internal::TableReader(*node.as_table(), name + ".", file_).OnlyKeys(internal::KeysOf(name)));
    }
    return Status::Ok();
  }

  // Runs `read` on the section's reader; an absent section leaves every default.
  template <typename Read>
  Status In(const char* section, Read read) const {
    const toml::table* table = root_[section].as_table();
    if (table == nullptr) return Status::Ok();
    return read(internal::TableReader(*table, std::string(section) + ".", file_));
  }

 private:
  const toml::table& root_;
  std::string file_;
};

}  // namespace

StatusOr<Config> LoadConfig(const std::filesystem::path& data_dir) {
  Config config;
  config.data_dir = std::filesystem::absolute(data_dir);
  const auto path = config.data_dir / "aegis.toml";
  AEGIS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path.string() << ":" << e.source().begin.line << ": " << e.description();
    return Status::InvalidArgument(msg.str());
  }
  Reader r(root, path.string());
  AEGIS_RETURN_IF_ERROR(r.CheckKnownKeys());
  AEGIS_RETURN_IF_ERROR(r.In("server", [&](const internal::TableReader& t) {
    AEGIS_RETURN_IF_ERROR(t.String("listen", config.listen));
    AEGIS_RETURN_IF_ERROR(t.String("admin_listen", config.admin_listen));
    AEGIS_RETURN_IF_ERROR(t.Integer("io_threads", config.server.io_threads, 0, 256));
    AEGIS_RETURN_IF_ERROR(t.Integer("worker_threads", config.server.worker_threads, 0, 256));
    AEGIS_RETURN_IF_ERROR(t.Seconds("drain_timeout_seconds", config.server.drain_timeout, 0, 3600));
    AEGIS_RETURN_IF_ERROR(t.StringArray("required_models", config.required_models));
    for (const std::string& entry : config.required_models) {
      const size_t slash = entry.find('/');
      if (!registry::IsValidModelName(entry.substr(0, slash)) ||
          (slash != std::string::npos && !registry::IsValidVersion(entry.substr(slash + 1)))) {
        return t.Error("required_models", "'" + entry + "' is not a model name or NAME/VERSION");
      }
    }
    AEGIS_RETURN_IF_ERROR(t.StringArray("trusted_proxies", config.trusted_proxies));
    if (auto proxies = http::TrustedProxies::Parse(config.trusted_proxies); !proxies.ok()) {
      return t.Error("trusted_proxies", proxies.status().message());
    }
    AEGIS_RETURN_IF_ERROR(t.Bool("public_model_ready", config.public_model_ready));
    AEGIS_RETURN_IF_ERROR(t.StringArray("cors_origins", config.cors_origins));
    if (auto cors = api::CorsPolicy::Parse(config.cors_origins); !cors.ok()) {
      return t.Error("cors_origins", cors.status().message());
    }
    return Status::Ok();
  }));
  AEGIS_RETURN_IF_ERROR(r.In("limits", [&](const internal::TableReader& t) {
    AEGIS_RETURN_IF_ERROR(t.Integer("max_body_bytes", config.api_limits.max_body_bytes, 1024, 1ll << 34));
    AEGIS_RETURN_IF_ERROR(t.Integer("max_model_bytes", config.api_limits.max_model_bytes, 1024, 1ll << 40));
    AEGIS_RETURN_IF_ERROR(t.Integer("max_header_bytes", config.http_limits.max_header_bytes, 1024,
                                    static_cast<int64_t>(http::kMaxHeaderBytes)));
    AEGIS_RETURN_IF_ERROR(t.Seconds("read_timeout_seconds", config.http_limits.read_timeout, 1, 3600));
    AEGIS_RETURN_IF_ERROR(t.Seconds("write_timeout_seconds", config.http_limits.write_timeout, 1, 3600));
    AEGIS_RETURN_IF_ERROR(t.Seconds("idle_timeout_seconds", config.http_limits.idle_timeout, 1, 3600));
    AEGIS_RETURN_IF_ERROR(t.Seconds("handshake_timeout_seconds", config.http_limits.handshake_timeout, 1, 300));
    AEGIS_RETURN_IF_ERROR(t.Seconds("first_byte_timeout_seconds", config.http_limits.first_byte_timeout, 1, 3600));
    AEGIS_RETURN_IF_ERROR(t.Integer("max_connections", config.http_limits.max_connections, 1, 1000000));
    AEGIS_RETURN_IF_ERROR(
        t.Integer("max_connections_per_source", config.http_limits.max_connections_per_source, 1, 1000000));
    AEGIS_RETURN_IF_ERROR(t.Integer("ipv6_source_prefix", config.http_limits.ipv6_source_prefix, 1, 128));
    auto& api = config.api_limits;
    AEGIS_RETURN_IF_ERROR(t.Integer("body_memory_bytes", api.body_memory_bytes, 0, 1ll << 40));
    // A budget smaller than one body would refuse the largest allowed request for ever.
    if (api.body_memory_bytes != 0 && api.body_memory_bytes < api.max_body_bytes) {
      return t.Error("body_memory_bytes", "must be 0 (derived from the machine's memory) or at least max_body_bytes (" +
                                              std::to_string(api.max_body_bytes) + ")");
    }
    AEGIS_RETURN_IF_ERROR(t.Integer("body_memory_principal_percent", api.body_memory_principal_percent, 1, 100));
    AEGIS_RETURN_IF_ERROR(t.Integer("max_response_body_bytes", api.max_response_body_bytes, 4096, 1ll << 34));
    return Status::Ok();
  }));
  AEGIS_RETURN_IF_ERROR(r.In("registry", [&](const internal::TableReader& t) {
    AEGIS_RETURN_IF_ERROR(t.Bool("require_signature", config.require_signature));
    return Status::Ok();
  }));
  AEGIS_RETURN_IF_ERROR(r.In("store", [&](const internal::TableReader& t) {
    AEGIS_RETURN_IF_ERROR(t.String("url", config.store_url));
    if (config.store_url.empty()) return Status::Ok();
    const Status checked = store::MetadataStore::CheckPostgresUrl(config.store_url);
    if (!checked.ok()) return t.Error("url", checked.message());
    return Status::Ok();
  }));
  std::string cert = config.tls_cert, key = config.tls_key;
  AEGIS_RETURN_IF_ERROR(r.In("tls", [&](const internal::TableReader& t) {
    AEGIS_RETURN_IF_ERROR(t.String("cert", cert));
    AEGIS_RETURN_IF_ERROR(t.String("key", key));
    std::string ca;
    AEGIS_RETURN_IF_ERROR(t.String("ca", ca));
    if (!ca.empty()) {
      config.tls_ca = config.Resolve(ca);
      // Named here, so a typo is reported against the key; the listener then
      // checks that tls.cert really chains to it.
      std::error_code ec;
      if (!std::filesystem::is_regular_file(config.tls_ca, ec)) {
        return t.Error("ca", "'" + config.tls_ca.string() + "' is not a readable file");
      }
    }
    return Status::Ok();
  }));
  config.tls_cert = cert;
  config.tls_key = key;
  AEGIS_RETURN_IF_ERROR(r.In("metrics", [&](const internal::TableReader& t) {
    AEGIS_RETURN_IF_ERROR(t.String("listen", config.metrics_listen));
    if (auto parsed = http::ParseHostPort(config.metrics_listen); !config.metrics_listen.empty() && !parsed.ok()) {
      return t.Error("listen", parsed.status().message());
    }
    std::string client_ca;
    AEGIS_RETURN_IF_ERROR(t.String("client_ca", client_ca));
    if (!client_ca.empty()) {
      if (config.metrics_listen.empty()) return t.Error("client_ca", "needs metrics.listen (the listener it guards)");
      config.metrics_client_ca = config.Resolve(client_ca);
      std::error_code ec;
      if (!std::filesystem::is_regular_file(config.metrics_client_ca, ec)) {
        return t.Error("client_ca", "'" + config.metrics_client_ca.string() + "' is not a readable file");
      }
    }
    return Status::Ok();
  }));
  AEGIS_RETURN_IF_ERROR(r.In("logging", [&](const internal::TableReader& t) {
    std::string level(log::LevelName(config.logging.level)), format(log::FormatName(config.logging.format));
    AEGIS_RETURN_IF_ERROR(t.String("level", level));
    const auto parsed_level = log::ParseLevel(level);
    if (!parsed_level) return t.Error("level", "'" + level + "' is not trace, debug, info, warn or error");
    config.logging.level = *parsed_level;
    AEGIS_RETURN_IF_ERROR(t.String("format", format));
    const auto parsed_format = log::ParseFormat(format);
    if (!parsed_format) return t.Error("format", "'" + format + "' is not text or json");
    config.logging.format = *parsed_format;
    std::string access_log;
    AEGIS_RETURN_IF_ERROR(t.String("access_log", access_log));
    if (!access_log.empty() && access_log != "-") access_log = config.Resolve(access_log).string();
    config.logging.access_log = access_log;
    return Status::Ok();
  }));
  AEGIS_RETURN_IF_ERROR(internal::LoadAuthConfig(root, path.string(), config));
  AEGIS_RETURN_IF_ERROR(internal::LoadAuditConfig(root, path.string(), config));
  AEGIS_RETURN_IF_ERROR(internal::LoadRuntimeConfig(root, path.string(), config));
  AEGIS_RETURN_IF_ERROR(internal::LoadGuardConfig(root, path.string(), config));
  return config;
}

namespace {

// A TOML basic string. Control characters cannot occur: the only caller's
// value (store.url) has passed MetadataStore::CheckPostgresUrl.
std::string TomlString(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string RenderDefaultConfig(const std::string& listen, const std::string& admin_listen, bool local_ca,
                                const std::string& store_url) {
  const Config d;
  std::ostringstream out;
  out << "# Aegis configuration. Relative paths are relative to this directory.\n"
      << "# Unknown keys are refused at start-up.\n\n"
      << "[server]\n"
      << "listen = \"" << listen << "\"              # data plane (KServe v2), HTTPS only\n"
      << "admin_listen = \"" << admin_listen << "\"  # control plane; keep it on loopback\n"
      << "io_threads = 0                # 0 = half the cores\n"
      << "worker_threads = 0            # inference pool; 0 = half the cores\n"
      << "drain_timeout_seconds = " << d.server.drain_timeout.count() << "\n"
      << "# /v2/health/ready waits for these to load (\"name\" or \"name/version\"); others\n"
      << "# failing to load are reported per model and leave the server ready.\n"
      << "required_models = []\n"
      << "# Reverse proxies (CIDR) whose X-Forwarded-For names the client for login throttling,\n"
      << "# lockout and audit; from any other peer the header is ignored.\n"
      << "trusted_proxies = []\n"
      << "# Per-model readiness (/v2/models/NAME/ready) without a token, for probes that carry\n"
      << "# none; anyone who reaches the data plane then learns which model names exist.\n"
      << "public_model_ready = false\n"
      << "# Browser origins (\"https://app.example.com\") that may call the data plane\n"
      << "# cross-origin; exact matches, no wildcard. Empty: no CORS.\n"
      << "cors_origins = []\n\n"
      << "[limits]\n"
      << "max_body_bytes = " << d.api_limits.max_body_bytes << "     # inference request body\n"
      << "max_model_bytes = " << d.api_limits.max_model_bytes << "   # model upload\n"
      << "max_header_bytes = " << d.http_limits.max_header_bytes << "\n"
      << "read_timeout_seconds = " << d.http_limits.read_timeout.count()
      << "   # whole request must arrive within this\n"
      << "write_timeout_seconds = " << d.http_limits.write_timeout.count() << "\n"
      << "idle_timeout_seconds = " << d.http_limits.idle_timeout.count() << "\n"
      << "handshake_timeout_seconds = " << d.http_limits.handshake_timeout.count() << "    # TLS handshake\n"
      << "first_byte_timeout_seconds = " << d.http_limits.first_byte_timeout.count()
      << "   # handshake done to first request byte\n"
      << "# At a cap a new connection replaces the oldest one not in a request (docs/limits.md).\n"
      << "max_connections = " << d.http_limits.max_connections << "        # per listener\n"
      << "max_connections_per_source = " << d.http_limits.max_connections_per_source
      << "  # per client address; loopback included\n"
      << "ipv6_source_prefix = " << d.http_limits.ipv6_source_prefix
      << "          # IPv6 clients are grouped by this prefix length\n"
      << "# Memory that inference bodies may hold at once, all clients together; a\n"
      << "# request that does not fit gets 503 with Retry-After. 0 = a quarter of the\n"
      << "# memory available at start (cgroup limit included), 64 MiB to 32 GiB.\n"
      << "body_memory_bytes = " << d.api_limits.body_memory_bytes << "\n"
      << "body_memory_principal_percent = " << d.api_limits.body_memory_principal_percent
      << "   # one principal's share of it\n"
      << "max_response_body_bytes = " << d.api_limits.max_response_body_bytes
      << "   # encoded inference response; 500 above\n\n"
      << internal::RenderGuardConfig() << "\n"
      << internal::RenderRuntimeConfig() << "\n"
      << "[registry]\n"
      << "# Only models signed (OpenSSF Model Signing) by a key in the trust store\n"
      << "# (`aegis trust add`) are pushed and served. Turning this off is for\n"
      << "# development only; signed pushes are still verified.\n"
      << "require_signature = true\n\n"
      << "[store]\n"
      << "# Without url: the embedded SQLite database under db/. With a postgresql:// URL\n"
      << "# (sslmode=verify-full for a TCP host; the password from AEGIS_DB_PASSWORD or a\n"
      << "# libpq passfile, never here): the shared state of replicas (docs/scale-out.md).\n"
      << (store_url.empty()
              ? "# url = "
                "\"postgresql://aegis@db.example:5432/aegis?sslmode=verify-full&sslrootcert=/etc/aegis/db-ca.crt\"\n"
              : "url = " + TomlString(store_url) + "\n")
      << "\n"
      << "[tls]\n"
      << "cert = \"" << d.tls_cert.string() << "\"\n"
      << "key = \"" << d.tls_key.string() << "\"\n"
      << "# The CA that issued cert: the server refuses to start unless cert chains to it.\n"
      << (local_ca ? "" : "# ") << "ca = \"" << kLocalCa << "\"\n\n"
      << "[logging]\n"
      << "# Server log on standard output: trace, debug, info, warn or error; text or json\n"
      << "# (one JSON object a line). `aegis serve --log-level` overrides the level.\n"
      << "level = \"" << log::LevelName(d.logging.level) << "\"\n"
      << "format = \"" << log::FormatName(d.logging.format) << "\"\n"
      << "# One JSON line per HTTP request (never a credential or a body), written by a\n"
      << "# background thread; \"-\" is standard error. Off unless set.\n"
      << "# access_log = \"access.log\"\n"
      << "# SIGHUP reloads [logging] and [tls] (docs/operations.md, \"Reloading\").\n\n"
      << "[audit]\n"
      << "# The tamper-evident log (docs/audit.md): a new segment file every this many bytes,\n"
      << "# and a full re-verification of the log on disk this often (60 s to 1 day).\n"
      << "segment_max_bytes = " << d.audit_segment_max_bytes << "\n"
      << "verify_interval_seconds = " << d.audit_verify_interval.count() << "\n"
      << "# \"all\": one event per request. \"summary\": successful inferences are counted into one\n"
      << "# event per principal, model version, source and second (counts, latency quantiles);\n"
      << "# denials, errors, logins and management actions keep their own events. An auditor\n"
      << "# then loses the request id of each successful inference (docs/audit.md).\n"
      << "inference_events = \"all\"\n"
      << "# Days an archived segment (aegis audit archive --keep-live) stays in the live log;\n"
      << "# 0 = until removed by hand. Never prunes what no archive holds. PCI DSS 10.5.1:\n"
      << "# 12 months retained, the last 3 at hand: archive daily, retention_days = 92.\n"
      << "retention_days = " << d.audit_retention_days << "\n"
      << "# Archive while serving: segments sealed more than archive_after_days ago move, checked,\n"
      << "# into a new folder under archive_dir (absolute, 0700, outside this data directory's\n"
      << "# audit/), at start and hourly. Off unless both are set (docs/audit.md, \"Archiving\").\n"
      << "# archive_dir = \"/var/lib/aegis-archive\"\n"
      << "# archive_after_days = 30\n\n"
      << "# SIEM sinks: a copy of every audit event once it is on disk (docs/operations.md).\n"
      << "# [audit.syslog]                  # RFC 5424\n"
      << "# address = \"siem.example:6514\"\n"
      << "# transport = \"tls\"   # tls (default), tcp or udp (tcp/udp: loopback only unless allow_plaintext = true)\n"
      << "# ca = \"/etc/aegis/siem-ca.pem\"\n"
      << "#\n"
      << "# [audit.webhook]                 # HTTPS POST of JSON batches\n"
      << "# url = \"https://siem.example/ingest\"\n"
      << "# token_file = \"siem.token\"       # bearer token; chmod 600\n";
  return out.str();
}

}  // namespace aegis::cli
