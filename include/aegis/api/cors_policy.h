// CorsPolicy: which browser origins may call the data plane cross-origin
// ([server] cors_origins), and the CORS headers that say so (the Fetch
// standard's CORS protocol).
//
// Off by default (no origins): no CORS header is ever sent, and an OPTIONS
// request is an ordinary one (routed, authenticated, refused with 405).
// With origins:
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//     answered before any route or credential is looked at: 204 with
//     Access-Control-Allow-Origin (the origin itself), -Allow-Methods,
//     -Allow-Headers, -Max-Age and Vary: Origin for a listed origin; 403 with a
//     JSON error and no CORS header for any other;
//   - every other response to a request with an Origin carries Vary: Origin,
//     and Access-Control-Allow-Origin and -Expose-Headers only when the origin
//     is listed. A request without Origin (every non-browser client) is not
//     touched at all.
// Matching is exact on the origin as browsers serialize it (scheme://host[:port],
// lowercase, default port omitted); the configured entries are normalized to
// that form when parsed. There is no wildcard, and Access-Control-Allow-Credentials
// is never sent: the data plane's credential is a bearer token the page sets
// itself, which needs neither cookies nor the browser's client certificate.
// The control plane never answers CORS (it carries admin credentials, and its
// dashboard is served from its own origin).
//
// Example:
//   auto cors = CorsPolicy::Parse({"https://app.example.com"});   // at start-up
//   if (cors->IsPreflight(head)) plan.immediate = cors->Preflight(head);
//   else cors->Decorate(head, plan);
//
// Thread-safety: immutable after Parse; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/http/message.h"

namespace aegis::api {

class CorsPolicy {
 public:
  static constexpr size_t kMaxOrigins = 256;
  static constexpr int kMaxAgeSeconds = 600;  // how long a browser may cache a preflight

  // The origin as a browser sends it: "https://App.Example.com:443" →
  // "https://app.example.com". InvalidArgument, naming the entry and the rule,
  // for anything that is not scheme://host[:port] with no path, query,
  // fragment or user info; for "*" and "null"; and for http:// except on a
  // loopback host (localhost, 127.0.0.1, [::1]: a development server).
  static StatusOr<std::string> NormalizeOrigin(std::string_view origin);

  // Every entry through NormalizeOrigin; duplicates are refused (a typo's sign).
  static StatusOr<CorsPolicy> Parse(const std::vector<std::string>& origins);

  CorsPolicy() = default;  // off

  bool enabled() const { return !origins_.empty(); }
  // Whether `origin` (an Origin header's value, as sent) is listed.
  bool Allows(std::string_view origin) const;
  // OPTIONS with Origin and Access-Control-Request-Method, and CORS is on.
  bool IsPreflight(const http::RequestHead& head) const;
  // The answer to a preflight (see above).
  http::Response Preflight(const http::RequestHead& head) const;
  // Adds the headers above to whatever response `plan` produces: the immediate
  // one, the handler's, the async handler's, the body sink's, and a refusal of
  // the body's memory reservation. No-op without an Origin header or when off.
  void Decorate(const http::RequestHead& head, http::Plan& plan) const;

 private:
  explicit CorsPolicy(std::vector<std::string> origins) : origins_(std::move(origins)) {}
  std::vector<std::string> origins_;  // normalized
};

}  // namespace aegis::api
