#include "audit_config.h"

#include <sys/stat.h>

#include <system_error>

#include "config_schema.h"
#include "toml_table.h"

namespace aegis::cli::internal {
namespace {

// A path key: resolved against the data directory, must name a regular file.
Status FileKey(const TableReader& r, const Config& config, const std::string& key, std::filesystem::path& out) {
  std::string value;
  AEGIS_RETURN_IF_ERROR(r.String(key, value));
  if (value.empty()) return Status::Ok();
  out = config.Resolve(value);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(out, ec)) return r.Error(key, "'" + out.string() + "' is not a readable file");
  return Status::Ok();
}

Status LoadSyslog(const toml::table& table, const std::string& file, Config& config) {
  TableReader r(table, "audit.syslog.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("audit.syslog")));
  audit::SyslogOptions o;
  std::string address, transport = "tls", facility = "authpriv";
  AEGIS_RETURN_IF_ERROR(r.String("address", address));
  if (address.empty()) return r.Error("address", "is required (\"host:port\")");
  auto endpoint = audit::ParseSyslogAddress(address);
  if (!endpoint.ok()) return r.Error("address", endpoint.status().message());
  o.host = endpoint->first;
  o.port = endpoint->second;

  AEGIS_RETURN_IF_ERROR(r.String("transport", transport));
  if (transport == "udp") {
    o.transport = audit::SyslogTransportKind::kUdp;
  } else if (transport == "tcp") {
    o.transport = audit::SyslogTransportKind::kTcp;
  } else if (transport == "tls") {
    o.transport = audit::SyslogTransportKind::kTls;
  } else {
    return r.Error("transport", "must be \"udp\", \"tcp\" or \"tls\"");
  }
  const bool tls = o.transport == audit::SyslogTransportKind::kTls;

  for (const char* key : {"ca", "cert", "key"}) {
    if (!tls && table.contains(key)) return r.Error(key, "applies to transport = \"tls\" only");
  }
  AEGIS_RETURN_IF_ERROR(FileKey(r, config, "ca", o.ca_file));
  AEGIS_RETURN_IF_ERROR(FileKey(r, config, "cert", o.cert_file));
  AEGIS_RETURN_IF_ERROR(FileKey(r, config, "key", o.key_file));
  if (o.cert_file.empty() != o.key_file.empty()) return r.Error("cert", "set both cert and key, or neither");

  AEGIS_RETURN_IF_ERROR(r.String("facility", facility));
  auto number = audit::ParseSyslogFacility(facility);
  if (!number.ok()) return r.Error("facility", number.status().message());
  o.facility = *number;

  AEGIS_RETURN_IF_ERROR(r.String("app_name", o.app_name));
  if (o.app_name.size() > 48 ||
      o.app_name.find_first_not_of("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                                   "abcdefghijklmnopqrstuvwxyz{|}~") != std::string::npos) {
    return r.Error("app_name", "must be 1 to 48 printable ASCII characters without spaces (RFC 5424)");
  }
  const int64_t max_bytes = o.transport == audit::SyslogTransportKind::kUdp ? 65507 : 1 << 20;
  AEGIS_RETURN_IF_ERROR(r.Integer("max_message_bytes", o.max_message_bytes, 480, max_bytes));
  AEGIS_RETURN_IF_ERROR(r.Integer("queue_size", o.queue_size, 1, 1000000));

  AEGIS_RETURN_IF_ERROR(r.Bool("allow_plaintext", o.allow_plaintext));
  if (!tls && !o.allow_plaintext && !audit::IsLoopbackSyslogHost(o.host)) {
    return r.Error("address", "plaintext " + transport + " to the non-loopback host " + o.host +
                                  " would send audit data unencrypted: use transport = \"tls\", or set "
                                  "allow_plaintext = true");
  }
  config.syslog = std::move(o);
  return Status::Ok();
}

Status LoadWebhook(const toml::table& table, const std::string& file, Config& config) {
  TableReader r(table, "audit.webhook.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("audit.webhook")));
  audit::WebhookOptions o;
  AEGIS_RETURN_IF_ERROR(r.String("url", o.url));
  if (o.url.empty()) return r.Error("url", "is required (https://...)");
  if (auto url = audit::ParseWebhookUrl(o.url); !url.ok()) return r.Error("url", url.status().message());
  AEGIS_RETURN_IF_ERROR(FileKey(r, config, "ca", o.ca_file));
  std::string token_file;
  AEGIS_RETURN_IF_ERROR(r.String("token_file", token_file));
  if (!token_file.empty()) {
    auto token = audit::ReadBearerTokenFile(config.Resolve(token_file));
    if (!token.ok()) return r.Error("token_file", token.status().message());
    o.bearer_token = std::move(token).value();
  }
  AEGIS_RETURN_IF_ERROR(r.Integer("batch_size", o.batch_size, 1, 10000));
  AEGIS_RETURN_IF_ERROR(r.Integer("queue_size", o.queue_size, 1, 1000000));
  AEGIS_RETURN_IF_ERROR(r.Seconds("timeout_seconds", o.timeout, 1, 300));
  config.webhook = std::move(o);
  return Status::Ok();
}

// [audit] archive_dir: where the server itself writes archives. An absolute
// path the operator chose (nothing a request names), private to the server
// (0700: archives hold every event), and outside the live audit directory,
// whose files the archiver removes. Missing is fine if its parent exists: the
// server creates it (0700) at start.
Status ArchiveDirKey(const TableReader& r, Config& config) {
  std::string value;
  AEGIS_RETURN_IF_ERROR(r.String("archive_dir", value));
  if (value.empty()) return Status::Ok();
  const std::filesystem::path dir(value);
  if (!dir.is_absolute()) return r.Error("archive_dir", "must be an absolute path");
  std::error_code ec;
  const auto resolved = std::filesystem::weakly_canonical(dir, ec);
  const auto live = std::filesystem::weakly_canonical(config.data_dir / "audit", ec);
  if (ec) return r.Error("archive_dir", "cannot resolve '" + value + "': " + ec.message());
  const auto [live_end, dir_end] = std::mismatch(live.begin(), live.end(), resolved.begin(), resolved.end());
  if (live_end == live.end()) {
    return r.Error("archive_dir",
                   "'" + value + "' is inside the live audit log " + live.string() + ": choose a folder outside it");
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return r.Error("archive_dir", "'" + value + "' is not a directory");
    if ((st.st_mode & 077) != 0) {
      return r.Error("archive_dir", "'" + value + "' is readable or writable by others: chmod 700 it");
    }
  } else if (!std::filesystem::is_directory(dir.parent_path(), ec)) {
    return r.Error("archive_dir", "'" + value + "' does not exist and its parent is not a directory");
  }
  config.audit_archive_dir = resolved;
  return Status::Ok();
}

}  // namespace

Status LoadAuditConfig(const toml::table& root, const std::string& file, Config& config) {
  const toml::node* audit = root.get("audit");
  if (audit == nullptr) return Status::Ok();
  if (!audit->is_table()) return Status::InvalidArgument(file + ": audit: must be a table");
  TableReader r(*audit->as_table(), "audit.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("audit")));
  AEGIS_RETURN_IF_ERROR(r.Integer("segment_max_bytes", config.audit_segment_max_bytes, 64 << 10, 1ll << 30));
  // The background re-verification can be slowed, never switched off.
  AEGIS_RETURN_IF_ERROR(r.Seconds("verify_interval_seconds", config.audit_verify_interval, 60, 86400));
  std::string inference_events = "all";
  AEGIS_RETURN_IF_ERROR(r.String("inference_events", inference_events));
  if (inference_events != "all" && inference_events != "summary") {
    return r.Error("inference_events", "must be \"all\" (one event per inference) or \"summary\" (see docs/audit.md)");
  }
  config.audit_summarize_inferences = inference_events == "summary";
  AEGIS_RETURN_IF_ERROR(r.Integer("retention_days", config.audit_retention_days, 0, 36500));
  AEGIS_RETURN_IF_ERROR(ArchiveDirKey(r, config));
  AEGIS_RETURN_IF_ERROR(r.Integer("archive_after_days", config.audit_archive_after_days, 1, 36500));
  if (config.audit_archive_dir.empty() != (config.audit_archive_after_days == 0)) {
    return r.Error(config.audit_archive_dir.empty() ? "archive_after_days" : "archive_dir",
                   "set archive_dir and archive_after_days together (docs/audit.md, \"Archiving\")");
  }
  if (const toml::node* syslog = audit->as_table()->get("syslog")) {
    if (!syslog->is_table()) return r.Error("syslog", "must be a table ([audit.syslog])");
    AEGIS_RETURN_IF_ERROR(LoadSyslog(*syslog->as_table(), file, config));
  }
  if (const toml::node* webhook = audit->as_table()->get("webhook")) {
    if (!webhook->is_table()) return r.Error("webhook", "must be a table ([audit.webhook])");
    AEGIS_RETURN_IF_ERROR(LoadWebhook(*webhook->as_table(), file, config));
  }
  return Status::Ok();
}

}  // namespace aegis::cli::internal
