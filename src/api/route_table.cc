#include "route_table.h"

#include <vector>

#include "guard_stage.h"

namespace aegis::api::internal {
namespace {

constexpr std::string_view kMountSuffix = "/**";

// Allow lists methods in this order whatever the table's order.
constexpr std::string_view kMethodOrder[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

bool IsMount(std::string_view pattern) { return pattern.ends_with(kMountSuffix); }

bool IsParam(std::string_view segment) { return segment.size() > 2 && segment.front() == '{' && segment.back() == '}'; }

// Whether `pattern` (not a mount) matches the path's segments; fills `params`.
bool Matches(std::string_view pattern, const std::vector<std::string_view>& segments, PathParams& params) {
  pattern.remove_prefix(1);  // the leading '/'
  size_t i = 0;
  while (!pattern.empty()) {
    const size_t slash = pattern.find('/');
    const std::string_view want = pattern.substr(0, slash);
    if (i == segments.size()) return false;
    if (IsParam(want)) {
      if (!params.Add(want.substr(1, want.size() - 2), segments[i])) return false;
    } else if (want != segments[i]) {
      return false;
    }
    ++i;
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return i == segments.size();
}

// A mount covers its own path and everything under it, spelled any way.
bool MountCovers(std::string_view pattern, std::string_view path) {
  const std::string_view root = pattern.substr(0, pattern.size() - kMountSuffix.size());
  return path == root || (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/');
}

// The methods of every route whose pattern matches the path, in kMethodOrder.
std::string AllowHeader(std::span<const Route> routes, const std::vector<std::string_view>& segments) {
  std::string allow;
  for (std::string_view method : kMethodOrder) {
    for (const Route& r : routes) {
      PathParams unused;
      if (r.method != method || IsMount(r.pattern) || !Matches(r.pattern, segments, unused)) continue;
      if (!allow.empty()) allow += ", ";
      allow += method;
      break;
    }
  }
  return allow;
}

bool HasControlPlaneRole(const auth::Principal& principal) {
  for (const auto& g : principal.subject.grants) {
    if (policy::HasControlPlaneActions(g.role)) return true;
  }
  return false;
}

// Steps 3–5: authentication and authorization. False when the plan already
// holds the refusal; `principal` is set for every admitted non-anonymous route.
bool Admit(const Route& route, const RouteMatch& match, const DispatchOptions& options, const Services& services,
           const http::RequestHead& head, std::optional<auth::Principal>& principal, http::Plan& plan,
           audit::AuditEvent& event) {
  if (route.access == Access::kAnonymous) return true;
  if (!GuardSource(services, head, plan, event)) return false;
  principal = Authenticate(services, head, plan, event);
  if (!principal) {
    CountFailedAuthentication(services, head);
    return false;
  }
  // A suspended credential is refused before it costs any limit or policy work.
  if (services.suspensions != nullptr && services.suspensions->IsSuspended(principal->name)) {
    Deny(services, "credential suspended", plan, event);
    return false;
  }
  if (!GuardPrincipal(services, *principal, match.params.Get("model"), plan, event)) return false;
  if (route.access == Access::kAuthenticated) return true;
  if (options.require_control_plane_role && !HasControlPlaneRole(*principal)) {
    Deny(services, "this identity has no control-plane role", plan, event);
    return false;
  }
  return Authorize(services, *principal, route.action, match.params.Get("model"), plan, event);
}

}  // namespace

std::string_view PathParams::Get(std::string_view name) const {
  for (size_t i = 0; i < size_; ++i) {
    if (params_[i].first == name) return params_[i].second;
  }
  return {};
}

bool PathParams::Add(std::string_view name, std::string_view value) {
  if (size_ == params_.size()) return false;
  params_[size_++] = {name, value};
  return true;
}

std::optional<RouteMatch> MatchRoute(std::span<const Route> routes, const http::RequestHead& head) {
  if (auto segments = SplitPath(head.path)) {
    const Route* first = nullptr;  // the path's first route, for a method it lacks
    PathParams first_params;
    for (const Route& r : routes) {
      PathParams params;
      if (IsMount(r.pattern) || !Matches(r.pattern, *segments, params)) continue;
      if (r.method == head.method) return RouteMatch{&r, params, true, {}};
      if (first == nullptr) {
        first = &r;
        first_params = params;
      }
    }
    if (first != nullptr) return RouteMatch{first, first_params, false, AllowHeader(routes, *segments)};
  }
  for (const Route& r : routes) {
    if (IsMount(r.pattern) && MountCovers(r.pattern, head.path)) {
      const bool allowed = r.method == kAnyMethod || r.method == head.method;
      return RouteMatch{&r, PathParams{}, allowed, allowed ? std::string() : std::string(r.method)};
    }
  }
  return std::nullopt;
}

std::string RouteResource(const Route& route, const PathParams& params, const http::RequestHead& head) {
  std::string out;
  std::string_view rest = route.resource;
  while (!rest.empty()) {
    const size_t open = rest.find('{');
    const size_t close = open == std::string_view::npos ? open : rest.find('}', open);
    if (close == std::string_view::npos) {
      out += rest;
      break;
    }
    out += rest.substr(0, open);
    const std::string_view name = rest.substr(open + 1, close - open - 1);
    out += name == "path" ? std::string_view(head.path) : params.Get(name);
    rest.remove_prefix(close + 1);
  }
  return out;
}

http::Plan Dispatch(std::span<const Route> routes, const DispatchOptions& options, const Services& services,
                    const http::RequestHead& head) {
  // Every request planned here ends in AuditOnComplete, which ends it for the monitor too.
  if (services.monitor != nullptr) services.monitor->RequestBegan();
  std::optional<RouteMatch> match = MatchRoute(routes, head);
  if (!match) {
    const bool other_plane = !options.other_plane_prefix.empty() && head.path.starts_with(options.other_plane_prefix);
    http::Plan plan = Respond(http::Response::Error(404, other_plane ? options.other_plane_error : "no such endpoint"));
    AuditOnComplete(plan, services, head, StartUnroutedEvent(services, head));
    return plan;
  }
  const Route& route = *match->route;
  http::Plan plan;
  audit::AuditEvent event = StartEvent(services, head, route.action, RouteResource(route, match->params, head));
  RouteRequest request{services, head, match->params, plan, event};
  std::optional<auth::Principal> principal;
  if (Admit(route, *match, options, services, head, principal, plan, event)) {
    if (!match->method_allowed) {
      plan.immediate = MethodNotAllowed(match->allow);
      if (route.browser) AddBrowserHardening(*plan.immediate);
    } else if (route.access == Access::kAnonymous) {
      route.anonymous(request);
    } else {
      route.handler(request, *principal);
    }
  }
  AuditOnComplete(plan, services, head, std::move(event), std::move(request.late), request.series, request.scrape);
  return plan;
}

}  // namespace aegis::api::internal
