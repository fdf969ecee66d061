#include "aegis/api/cors_policy.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace aegis::api {
namespace {

// What a browser may send and read cross-origin. Authorization carries the
// bearer token; the rest are the v2 protocol's and the correlation ids.
constexpr std::string_view kAllowMethods = "GET, POST";
constexpr std::string_view kAllowHeaders =
    "Authorization, Content-Type, Inference-Header-Content-Length, X-Request-Id, traceparent";
constexpr std::string_view kExposeHeaders =
    "X-Request-Id, traceparent, Inference-Header-Content-Length, Retry-After, RateLimit, RateLimit-Policy, "
    "WWW-Authenticate";

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

bool IsDnsChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; }
bool IsV6Char(char c) { return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') || c == ':' || c == '.'; }

// "443" → 443; nullopt for anything but 1–65535 in plain digits.
std::optional<int> ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  int n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 65535) return std::nullopt;
  return n;
}

bool IsLoopbackHost(std::string_view host) { return host == "localhost" || host == "127.0.0.1" || host == "[::1]"; }

Status Invalid(std::string_view origin, std::string_view why) {
  return Status::InvalidArgument("CORS origin '" + std::string(origin) + "' " + std::string(why));
}

http::Response WithHeaders(http::Response response, const std::vector<std::pair<std::string, std::string>>& headers) {
  response.headers.insert(response.headers.end(), headers.begin(), headers.end());
  return response;
}

// A body sink whose response carries the CORS headers.
class DecoratedSink final : public http::BodySink {
 public:
  DecoratedSink(std::unique_ptr<http::BodySink> inner, std::vector<std::pair<std::string, std::string>> headers)
      : inner_(std::move(inner)), headers_(std::move(headers)) {}
  Status Write(std::span<const uint8_t> chunk) override { return inner_->Write(chunk); }
  http::Response Finish() override { return WithHeaders(inner_->Finish(), headers_); }
  void Abort(const Status& why) override { inner_->Abort(why); }

 private:
  std::unique_ptr<http::BodySink> inner_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace

StatusOr<std::string> CorsPolicy::NormalizeOrigin(std::string_view origin) {
  if (origin == "*") {
    return Invalid(origin,
                   "is not allowed: list each origin (a wildcard would let every web page a user opens call the "
                   "data plane and read its answers)");
  }
  if (Lower(origin) == "null") return Invalid(origin, "is not allowed (sandboxed frames and files send it)");
  const size_t sep = origin.find("://");
  if (sep == std::string_view::npos)
    return Invalid(origin, "must be scheme://host[:port], e.g. https://app.example.com");
  const std::string scheme = Lower(origin.substr(0, sep));
  if (scheme != "https" && scheme != "http") return Invalid(origin, "must start with https://");
  const std::string_view authority = origin.substr(sep + 3);
  for (const char c : authority) {
    if (c == '/' || c == '?' || c == '#' || c == '@' || c == '\\' || static_cast<unsigned char>(c) <= 0x20 ||
        static_cast<unsigned char>(c) >= 0x7F) {
      return Invalid(origin,
                     "must be scheme://host[:port] only: no path (not even a trailing '/'), query, fragment "
                     "or user info");
    }
  }
  std::string host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return Invalid(origin, "has an invalid IPv6 address");
    host = Lower(authority.substr(0, close + 1));
    if (!std::all_of(host.begin() + 1, host.end() - 1, IsV6Char)) return Invalid(origin, "has an invalid IPv6 address");
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Invalid(origin, "has text after the IPv6 address");
      port_text = rest.substr(1);
      if (port_text.empty()) return Invalid(origin, "has an empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    host = Lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Invalid(origin, "has an empty port");
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), IsDnsChar) || host.front() == '.' ||
        host.back() == '.' || host.find("..") != std::string::npos) {
      return Invalid(origin, "has an invalid host name");
    }
  }
  std::optional<int> port;
  if (!port_text.empty()) {
    port = ParsePort(port_text);
    if (!port) return Invalid(origin, "has an invalid port (1-65535)");
  }
  if (scheme == "http" && !IsLoopbackHost(host)) {
    return Invalid(origin, "uses http://, allowed only for localhost, 127.0.0.1 and [::1]; use https://");
  }
  const int default_port = scheme == "https" ? 443 : 80;
  std::string out = scheme + "://" + host;
  if (port && *port != default_port) out += ":" + std::to_string(*port);
  return out;
}

StatusOr<CorsPolicy> CorsPolicy::Parse(const std::vector<std::string>& origins) {
  if (origins.size() > kMaxOrigins) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxOrigins) + " CORS origins");
  }
  std::vector<std::string> normalized;
  for (const std::string& o : origins) {
    AEGIS_ASSIGN_OR_RETURN(std::string n, NormalizeOrigin(o));
    if (std::find(normalized.begin(), normalized.end(), n) != normalized.end()) {
      return Status::InvalidArgument("CORS origin '" + o + "' is listed twice (as " + n + ")");
    }
    normalized.push_back(std::move(n));
  }
  return CorsPolicy(std::move(normalized));
}

bool CorsPolicy::Allows(std::string_view origin) const {
  return std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

bool CorsPolicy::IsPreflight(const http::RequestHead& head) const {
  return enabled() && head.method == "OPTIONS" && head.Header("origin").has_value() &&
         head.Header("access-control-request-method").has_value();
}

http::Response CorsPolicy::Preflight(const http::RequestHead& head) const {
  const std::string_view origin = head.Header("origin").value_or("");
  if (!Allows(origin)) {
    http::Response refused = http::Response::Error(403, "origin not allowed");
    refused.headers.emplace_back("Vary", "Origin");
    return refused;
  }
  http::Response r;
  r.status = 204;
  r.headers = {{"Access-Control-Allow-Origin", std::string(origin)},
               {"Access-Control-Allow-Methods", std::string(kAllowMethods)},
               {"Access-Control-Allow-Headers", std::string(kAllowHeaders)},
               {"Access-Control-Max-Age", std::to_string(kMaxAgeSeconds)},
               {"Vary", "Origin"}};
  return r;
}

void CorsPolicy::Decorate(const http::RequestHead& head, http::Plan& plan) const {
  if (!enabled()) return;
  const auto origin = head.Header("origin");
  if (!origin) return;
  std::vector<std::pair<std::string, std::string>> headers = {{"Vary", "Origin"}};
  if (Allows(*origin)) {
    headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
    headers.emplace_back("Access-Control-Expose-Headers", std::string(kExposeHeaders));
  }
  if (plan.immediate) plan.immediate = WithHeaders(std::move(*plan.immediate), headers);
  if (plan.handler) {
    plan.handler = [inner = std::move(plan.handler), headers](http::Request& request) {
      return WithHeaders(inner(request), headers);
    };
  }
  if (plan.async_handler) {
    plan.async_handler = [inner = std::move(plan.async_handler), headers](http::Request& request, http::Reply reply) {
      inner(request, http::Reply([reply = std::move(reply), headers](http::Response response) {
              reply(WithHeaders(std::move(response), headers));
            }));
    };
  }
  if (plan.sink) plan.sink = std::make_unique<DecoratedSink>(std::move(plan.sink), headers);
  if (plan.reserve_body) {
    plan.reserve_body = [inner = std::move(plan.reserve_body), headers](uint64_t bytes) {
      std::optional<http::Response> refused = inner(bytes);
      if (refused) refused = WithHeaders(std::move(*refused), headers);
      return refused;
    };
  }
}

}  // namespace aegis::api
