// "host:port" and "https://host:port" parsing shared by the server (listen
// addresses), the client (server URLs) and the audit sinks (collector addresses). IPv6 literals are bracketed:
// "[::1]:8443".
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::http {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

// Requires an explicit host and a decimal port 0..65535.
StatusOr<HostPort> ParseHostPort(std::string_view s);

// "https://host:port" with an optional trailing '/'. Refuses any other scheme
// (there is no plaintext mode) and URLs with paths, queries or user info.
StatusOr<HostPort> ParseHttpsUrl(std::string_view url);

// True for an IPv4 or IPv6 literal (no brackets).
bool IsIpLiteral(const std::string& host);

// True for a DNS host name a certificate may carry: dot-separated labels of
// 1-63 letters, digits and inner '-', 253 characters at most, not all digits
// in the last label (that would read as an IPv4 address), no wildcard, no
// trailing dot.
bool IsDnsName(std::string_view name);

}  // namespace aegis::http
