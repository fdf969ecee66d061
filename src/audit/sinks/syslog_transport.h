// Connections to a syslog collector (internal to src/audit/sinks): UDP (one datagram per
// message), TCP and TLS (RFC 5425) with RFC 6587 octet-counting framing. A
// stream transport connects lazily, notices a collector that closed the
// connection before it writes to it, and reports a failed send as an error after
// closing, so that the next Send reconnects.
//
// Thread-safety: a transport belongs to one thread (the sink's).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aegis/common/status.h"

namespace aegis::audit::internal {

struct TransportOptions {
  std::string host;  // name or IP literal (no brackets)
  uint16_t port = 0;
  // Plaintext transports: refuse to talk to an address that is not loopback
  // (checked on the resolved address, so a name cannot smuggle traffic out).
  bool require_loopback = true;
  std::chrono::milliseconds timeout{5000};  // connect, handshake and each write
};

class SyslogTransport {
 public:
  virtual ~SyslogTransport() = default;
  // Sends one message (framed as the transport needs), connecting first if needed.
  virtual Status Send(std::string_view message) = 0;
  virtual void Close() = 0;
};

std::unique_ptr<SyslogTransport> MakeUdpTransport(const TransportOptions& options);
std::unique_ptr<SyslogTransport> MakeTcpTransport(const TransportOptions& options);
// Verifies the collector's certificate chain against `ca_file` (the system store
// when empty) and its name against `options.host`; `cert_file`/`key_file` (both or
// neither) are the client certificate. Fails here on unreadable files.
StatusOr<std::unique_ptr<SyslogTransport>> MakeTlsTransport(const TransportOptions& options,
                                                            const std::filesystem::path& ca_file,
                                                            const std::filesystem::path& cert_file,
                                                            const std::filesystem::path& key_file);

// "host:port" or "[v6]:port" with a port 1..65535.
StatusOr<std::pair<std::string, uint16_t>> ParseEndpoint(std::string_view s);

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 literals, and "localhost".
bool IsLoopbackHost(std::string_view host);

}  // namespace aegis::audit::internal
