// Route tables: each plane is one constant table of (method + path pattern →
// action, who may call it, handler), and one dispatcher serves both. Internal
// to the api module.
//
// Dispatch, in the order it is enforced:
//   1. match the path: no route's pattern matches → 404, audited as "unknown";
//   2. pick the route of the request's method; a method no route of that path
//      has is audited, authenticated and authorized as the path's first route
//      (tables list the writing route first), then answered 405 with an Allow
//      header naming the path's methods — so a caller learns which methods exist
//      only once it would be allowed to use the path at all;
//   3. access: anonymous routes skip 4–5; every other route authenticates (401),
//      and a suspended principal is refused (403 "credential suspended");
//   4. on the control plane, a principal with no control-plane role is refused (403);
//   5. granted routes ask the policy for the route's action (403);
//   6. the handler plans the answer.
// Every request ends in exactly one audit event, named by the route's action.
//
// A route's action fixes both the audited name (policy::ActionName) and the
// permission checked (policy::RequiredPermission); a granted route also states
// that permission, and the tables static_assert that the two agree. Anonymous
// routes have a handler type without a principal: there is no stand-in identity.
//
// Thread-safety: the tables are immutable; Dispatch is safe for concurrent use.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "aegis/api/services.h"
#include "aegis/auth/principal.h"
#include "aegis/http/message.h"
#include "aegis/policy/policy.h"
#include "request_pipeline.h"

namespace aegis::api::internal {

// Who may reach a route.
enum class Access {
  kAnonymous,      // no credential is asked for or looked at
  kAuthenticated,  // any principal; the policy is not asked (logout, whoami)
  kGranted,        // a principal the policy allows the route's action
};

// The values of a matched pattern's {param} segments (views into the path).
class PathParams {
 public:
  // The value of `{name}`; empty if the pattern has no such param.
  std::string_view Get(std::string_view name) const;
  // False when the pattern has more params than fit (a table bug).
  bool Add(std::string_view name, std::string_view value);

 private:
  std::array<std::pair<std::string_view, std::string_view>, 4> params_{};
  size_t size_ = 0;
};

// A request as its route's handler sees it, after admission.
struct RouteRequest {
  const Services& services;
  const http::RequestHead& head;
  const PathParams& params;
  http::Plan& plan;
  audit::AuditEvent& event;
  // What the handler learns after planning (see LateOutcome); made on first use.
  std::shared_ptr<LateOutcome> late;
  // An inference sets the served model version's series, for the monitor.
  monitor::ModelSeries* series = nullptr;
  // GET /metrics sets where it was scraped: answered 200, it is counted
  // (aegis_metrics_scrapes_total) instead of audited; refusals stay audited.
  std::optional<monitor::ScrapeListener> scrape;

  const std::shared_ptr<LateOutcome>& Late() {
    if (!late) late = std::make_shared<LateOutcome>();
    return late;
  }
};

using AnonymousHandler = void (*)(RouteRequest& request);
using PrincipalHandler = void (*)(RouteRequest& request, const auth::Principal& principal);

// Matches every method (a mount: its handler answers whatever comes).
inline constexpr std::string_view kAnyMethod = "*";

// One row of a table; built with Anonymous, Authenticated or Granted below.
struct Route {
  std::string_view method;  // "GET", "POST", ... or kAnyMethod
  // "/v1/trust/{name}": literal segments and {param}s, each one whole segment.
  // A pattern ending in "/**" is a mount: that path and everything under it,
  // matched on the raw path, and only when no other pattern matches.
  std::string_view pattern;
  // The audit event's resource, with {param}s substituted and {path} the
  // request's path: "trust:{name}".
  std::string_view resource;
  policy::Action action;
  Access access;
  std::optional<policy::Permission> permission;  // set exactly on granted routes
  AnonymousHandler anonymous = nullptr;          // set exactly on anonymous routes
  PrincipalHandler handler = nullptr;            // set on the others
  // A page a browser renders: the dispatcher's own answers (405) carry the
  // browser-hardening headers too; its handlers add them to theirs.
  bool browser = false;

  constexpr Route InBrowser() const {
    Route r = *this;
    r.browser = true;
    return r;
  }
};

constexpr Route Anonymous(std::string_view method, std::string_view pattern, std::string_view resource,
                          policy::Action action, AnonymousHandler handler) {
  return Route{method, pattern, resource, action, Access::kAnonymous, std::nullopt, handler, nullptr};
}
constexpr Route Authenticated(std::string_view method, std::string_view pattern, std::string_view resource,
                              policy::Action action, PrincipalHandler handler) {
  return Route{method, pattern, resource, action, Access::kAuthenticated, std::nullopt, nullptr, handler};
}
constexpr Route Granted(std::string_view method, std::string_view pattern, std::string_view resource,
                        policy::Action action, policy::Permission permission, PrincipalHandler handler) {
  return Route{method, pattern, resource, action, Access::kGranted, permission, nullptr, handler};
}

// Whether every route's access and stated permission agree with the policy's
// RequiredPermission for its action (granted ⇔ the action needs a permission,
// and it is the one stated). The tables static_assert it. (The factories above
// pair each access with its handler type.)
constexpr bool AgreesWithPolicy(std::span<const Route> routes) {
  for (const Route& r : routes) {
    const std::optional<policy::Permission> needed = policy::RequiredPermission(r.action);
    if ((r.access == Access::kGranted) != needed.has_value() || r.permission != needed) return false;
  }
  return true;
}

struct RouteMatch {
  const Route* route = nullptr;  // the route of the method, or the path's first route
  PathParams params;
  bool method_allowed = false;
  std::string allow;  // the path's methods ("GET, POST"), for a 405
};

// The route for `head` in `routes`; nullopt when no pattern matches its path.
std::optional<RouteMatch> MatchRoute(std::span<const Route> routes, const http::RequestHead& head);

// The audit resource of `route` for this request.
std::string RouteResource(const Route& route, const PathParams& params, const http::RequestHead& head);

struct DispatchOptions {
  // The control plane refuses principals whose grants hold no control-plane permission.
  bool require_control_plane_role = false;
  // A path under this prefix belongs to the other plane: its 404 says so
  // (`other_plane_error`), so a client pointed at the wrong port learns why.
  std::string_view other_plane_prefix;
  std::string_view other_plane_error;
};

// Plans the request (steps 1–6 above) and arranges its audit event.
http::Plan Dispatch(std::span<const Route> routes, const DispatchOptions& options, const Services& services,
                    const http::RequestHead& head);

// Content-Security-Policy, Referrer-Policy, X-Frame-Options and cross-origin
// isolation headers for anything a browser renders (dashboard_routes.cc).
void AddBrowserHardening(http::Response& response);

// The two planes' tables (for tests); the data plane's with
// DataPlaneOptions::public_model_ready too.
std::span<const Route> DataPlaneRoutes();
std::span<const Route> PublicReadyDataPlaneRoutes();
std::span<const Route> ControlPlaneRoutes();

}  // namespace aegis::api::internal
