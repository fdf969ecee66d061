#include "aegis/http/host_port.h"

#include <arpa/inet.h>

#include <cctype>

namespace aegis::http {

StatusOr<HostPort> ParseHostPort(std::string_view s) {
  HostPort hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return Status::InvalidArgument("bad address '" + std::string(s) + "': expected [ipv6]:port");
    }
    hp.host.assign(s.substr(1, close - 1));
    port = s.substr(close + 2);
    if (!IsIpLiteral(hp.host) || hp.host.find(':') == std::string::npos) {
      return Status::InvalidArgument("bad address '" + std::string(s) + "': brackets need an IPv6 literal");
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("bad address '" + std::string(s) + "': expected host:port");
    }
    hp.host.assign(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) {
      return Status::InvalidArgument("bad address '" + std::string(s) + "': write IPv6 as [addr]:port");
    }
  }
  if (hp.host.empty()) return Status::InvalidArgument("bad address '" + std::string(s) + "': empty host");
  if (port.empty() || port.size() > 5) return Status::InvalidArgument("bad port in '" + std::string(s) + "'");
  uint32_t value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return Status::InvalidArgument("bad port in '" + std::string(s) + "'");
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return Status::InvalidArgument("port out of range in '" + std::string(s) + "'");
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

StatusOr<HostPort> ParseHttpsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("server URL must start with https:// (got '" + std::string(url) + "')");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return Status::InvalidArgument("server URL must be https://host:port (got '" + std::string(url) + "')");
  }
  if (rest.find(':') == std::string_view::npos || (rest.front() == '[' && rest.back() == ']')) {
    // No port given: the https default.
    return ParseHostPort(std::string(rest) + ":443");
  }
  auto hp = ParseHostPort(rest);
  if (hp.ok() && hp->port == 0) return Status::InvalidArgument("server URL needs a non-zero port");
  return hp;
}

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::string_view last;
  while (true) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (const char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return last.find_first_not_of("0123456789") != std::string_view::npos;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace aegis::http
