// SyslogSink: forwards every audit event and signed tree head to a syslog
// collector as RFC 5424 messages, over UDP (RFC 5426: one datagram per message),
// TCP (RFC 6587 octet counting) or TLS (RFC 5425: octet counting over TLS 1.2+,
// the collector verified against a CA file or the system store and its name).
//
// Each message is at most `max_message_bytes` (cut on a UTF-8 boundary). A stream
// transport that fails is reconnected with exponential back-off (0.5 s doubling to
// 30 s, jittered); the message in hand is kept and retried, newer ones wait in the
// bounded queue and are dropped (and counted) when it is full. Audit data must not
// cross a network in clear: plaintext transports talk only to loopback addresses
// unless `allow_plaintext` is set.
//
// Example:
//   SyslogOptions o;
//   o.host = "siem.example"; o.port = 6514; o.transport = SyslogTransportKind::kTls;
//   o.ca_file = "/etc/aegis/siem-ca.pem";
//   auto sink = SyslogSink::Create(o);   // then AuditLog::AddSink(*sink)
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
#include <utility>

#include "aegis/audit/sink.h"
#include "aegis/common/status.h"

namespace aegis::audit {

enum class SyslogTransportKind { kUdp, kTcp, kTls };

struct SyslogOptions {
  std::string host;  // collector name or IP literal (no brackets)
  uint16_t port = 0;
  SyslogTransportKind transport = SyslogTransportKind::kTls;
  std::filesystem::path ca_file;    // TLS: collector's CA bundle; system store when empty
  std::filesystem::path cert_file;  // TLS: optional client certificate chain (PEM) ...
  std::filesystem::path key_file;   // ... and its key; both or neither
  int facility = 10;                // authpriv: security messages, kept private by syslog daemons
  std::string app_name = "aegis";
  std::string hostname;  // HOSTNAME field; empty = gethostname()
  size_t max_message_bytes = 2048;
  size_t queue_size = 10000;                // events waiting for delivery
  bool allow_plaintext = false;             // UDP/TCP to a non-loopback address
  std::chrono::milliseconds timeout{5000};  // connect, handshake, each write
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds stop_drain{2000};  // how long Stop keeps delivering
  // Called from the sink's thread with the number of events dropped since the
  // last call, at most once every 10 s while drops happen (and at Stop). Must not
  // block for long; `aegis serve` appends an audit.sink_drop event.
  std::function<void(uint64_t dropped)> on_drop;
};

class SyslogSink : public AuditSink {
 public:
  // Validates the options and loads the TLS files; connects lazily.
  static StatusOr<std::shared_ptr<SyslogSink>> Create(SyslogOptions options);
};

// "host:port" or "[ipv6]:port" (port 1..65535) → host and port.
StatusOr<std::pair<std::string, uint16_t>> ParseSyslogAddress(std::string_view address);
// Whether `host` is a loopback literal or "localhost" (plaintext is allowed there).
bool IsLoopbackSyslogHost(std::string_view host);

// "auth", "authpriv", "daemon", "user", "local0".."local7" → the facility number.
StatusOr<int> ParseSyslogFacility(std::string_view name);

}  // namespace aegis::audit
