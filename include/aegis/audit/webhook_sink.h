// WebhookSink: forwards audit events and signed tree heads to an HTTPS endpoint
// as JSON batches, POSTed with Content-Type application/json:
//
//   {"events": [{...event...}, ...], "heads": [{...signed tree head...}, ...]}
//
// A batch holds up to `batch_size` items and waits at most `batch_delay` (1 s)
// for them. The endpoint is verified (chain against `ca_file` or the system store,
// and its host name); there is no plaintext mode. A connection error, 5xx or 429
// is retried with exponential back-off (0.5 s doubling to 30 s, jittered) while new
// events wait in the bounded queue; any other answer that is not 2xx refuses the
// batch for good (counted as a failure, its events as dropped). A full queue drops
// new events and counts them.
//
// Example:
//   WebhookOptions o;
//   o.url = "https://siem.example/ingest/aegis";
//   o.bearer_token = *ReadBearerTokenFile("/etc/aegis/siem.token");
//   auto sink = WebhookSink::Create(o);
//
// Thread-safety: as AuditSink (one delivery thread per sink).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "aegis/audit/sink.h"
#include "aegis/common/status.h"

namespace aegis::audit {

// What a POST carries: audit batches ({"events", "heads"}), or Alertmanager
// webhook notifications (version "4") of the alert objects offered to it
// (incident alerts, incident::AlertJson; `receiver` names the receiver).
enum class WebhookFormat : uint8_t { kAuditBatch, kAlertmanager };

struct WebhookOptions {
  std::string url;  // https://host[:port][/path][?query]
  WebhookFormat format = WebhookFormat::kAuditBatch;
  std::string receiver = "aegis";  // kAlertmanager: the payload's "receiver"
  std::filesystem::path ca_file;   // empty: the system store
  std::string bearer_token;        // sent as "Authorization: Bearer ..." when not empty
  size_t batch_size = 100;
  size_t queue_size = 10000;
  std::chrono::seconds timeout{10};  // connect, handshake, send and answer, each
  std::chrono::milliseconds batch_delay{1000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds stop_drain{5000};  // how long Stop keeps delivering
  // As SyslogOptions::on_drop: drops since the last call, at most every 10 s.
  std::function<void(uint64_t dropped)> on_drop;
};

class WebhookSink : public AuditSink {
 public:
  // Validates the options; connects lazily.
  static StatusOr<std::shared_ptr<WebhookSink>> Create(WebhookOptions options);
};

struct WebhookUrl {
  std::string origin;  // "https://host:port" (port 443 when absent)
  std::string target;  // "/path?query", "/" when absent
};
// https:// only; refuses user info (credentials do not belong in a config URL),
// fragments, and spaces or control characters.
StatusOr<WebhookUrl> ParseWebhookUrl(std::string_view url);

// Reads a bearer token from a file that only its owner may read (mode 0600 or
// 0400, a regular file, not a symlink). Trailing white space is ignored; the token
// must be printable ASCII without spaces, at most 4096 bytes.
StatusOr<std::string> ReadBearerTokenFile(const std::filesystem::path& path);

}  // namespace aegis::audit
