#include "response_writer.h"

#include <charconv>

#include <boost/beast/http/status.hpp>

namespace aegis::http::internal {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::string_view kSecurityHeaders =
    "Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Cache-Control: no-store\r\n"
    "Server: aegis\r\n";

bool SafeHeaderText(std::string_view s) {
  for (const char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool SafeHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == ':') return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Headers the server owns: a handler setting them would desynchronize framing.
bool Reserved(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
         EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "content-type") ||
         EqualsIgnoreCase(name, "x-request-id") || EqualsIgnoreCase(name, "traceparent");
}

void AppendNumber(uint64_t n, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

}  // namespace

bool HasBody(const Response& response, const ResponseFraming& framing) {
  return !framing.head_request && response.status >= 200 && response.status != 204 && response.status != 304;
}

void AppendResponseHead(const Response& response, const ResponseFraming& framing, std::string& out,
                        const ResponseIds& ids) {
  const int status = response.status >= 100 && response.status <= 599 ? response.status : 500;
  out += framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  AppendNumber(static_cast<uint64_t>(status), out);
  out.push_back(' ');
  const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  out += kSecurityHeaders;
  if (status >= 200 && status != 204 && status != 304) {
    out += "Content-Type: ";
    const bool type_ok = !response.content_type.empty() && SafeHeaderText(response.content_type);
    out += type_ok ? std::string_view(response.content_type) : std::string_view("application/octet-stream");
    out += "\r\nContent-Length: ";
    AppendNumber(response.body.size(), out);
    out += "\r\n";
  }
  if (!framing.keep_alive) {
    out += "Connection: close\r\n";
  } else if (framing.version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  // The ids were checked when they were adopted (trace_ids.h) or made by the
  // server; checked again here since a header line must never split.
  if (!ids.request_id.empty() && SafeHeaderText(ids.request_id)) {
    out += "X-Request-Id: ";
    out += ids.request_id;
    out += "\r\n";
  }
  if (!ids.traceparent.empty() && SafeHeaderText(ids.traceparent)) {
    out += "traceparent: ";
    out += ids.traceparent;
    out += "\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    if (!SafeHeaderName(name) || !SafeHeaderText(value) || Reserved(name)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace aegis::http::internal
