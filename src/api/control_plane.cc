#include "aegis/api/control_plane.h"

#include "control_routes.h"

namespace aegis::api {
namespace {

enum class ControlRoute {
  kModels,
  kModelVersion,
  kAudit,
  kTrust,
  kTrustKey,
  kTokens,
  kToken,
  kUsers,
  kUserDisable,
  kLogin,
  kLogout,
  kWhoami,
  kMetrics,
  kDashboard,
  kDashboardAsset
};

// How a route is guarded.
enum class Guard {
  kNone,           // no credential (login)
  kPublicAsset,    // no credential: static files that hold no data (the dashboard page)
  kAuthenticated,  // any principal (logout, whoami)
  kPolicy,         // a principal with a control-plane role whose grants allow `policy_action`
};

struct MatchedRoute {
  ControlRoute route;
  // Audited and authorized; names the method too, so the audit log says what
  // was attempted even when the method is refused.
  policy::Action action;
  std::string resource;
  Guard guard = Guard::kPolicy;
  std::string name;     // model, trusted key, token id or user name
  std::string version;  // model version
};

MatchedRoute Policy(ControlRoute route, policy::Action action, std::string resource, std::string name = "",
                    std::string version = "") {
  return MatchedRoute{route, action, std::move(resource), Guard::kPolicy, std::move(name), std::move(version)};
}

bool IsDashboardPath(std::string_view path) {
  constexpr std::string_view kPrefix = "/dashboard";
  return path == "/" || path == kPrefix ||
         (path.starts_with(kPrefix) && path.size() > kPrefix.size() && path[kPrefix.size()] == '/');
}

std::optional<MatchedRoute> Match(const http::RequestHead& head) {
  using policy::Action;
  // The whole /dashboard tree is the dashboard's, so that its 404s carry the
  // page's security headers too.
  if (IsDashboardPath(head.path)) {
    return MatchedRoute{ControlRoute::kDashboardAsset, Action::kDashboardPage, "dashboard:" + head.path,
                        Guard::kPublicAsset};
  }
  auto segs = internal::SplitPath(head.path);
  // Prometheus scrapes /metrics by convention.
  if (segs && segs->size() == 1 && (*segs)[0] == "metrics") {
    return Policy(ControlRoute::kMetrics, Action::kMetricsRead, "metrics");
  }
  if (!segs || segs->size() < 2 || (*segs)[0] != "v1") return std::nullopt;
  const auto& s = *segs;
  const std::string_view m = head.method;
  const bool remove = m == "DELETE";
  const bool read = m == "GET";
  if (s.size() == 2) {
    if (s[1] == "models") return Policy(ControlRoute::kModels, Action::kModelList, "models");
    if (s[1] == "audit") return Policy(ControlRoute::kAudit, Action::kAuditRead, "audit");
    if (s[1] == "trust") return Policy(ControlRoute::kTrust, Action::kTrustList, "trust");
    if (s[1] == "tokens")
      return Policy(ControlRoute::kTokens, read ? Action::kTokenList : Action::kTokenCreate, "tokens");
    if (s[1] == "users") return Policy(ControlRoute::kUsers, read ? Action::kUserList : Action::kUserAdd, "users");
    if (s[1] == "login") return MatchedRoute{ControlRoute::kLogin, Action::kLogin, "session", Guard::kNone};
    if (s[1] == "logout") return MatchedRoute{ControlRoute::kLogout, Action::kLogout, "session", Guard::kAuthenticated};
    if (s[1] == "whoami") return MatchedRoute{ControlRoute::kWhoami, Action::kWhoami, "session", Guard::kAuthenticated};
    if (s[1] == "dashboard") return Policy(ControlRoute::kDashboard, Action::kDashboardRead, "dashboard");
    return std::nullopt;
  }
  if (s.size() == 3 && s[1] == "trust") {
    std::string name(s[2]);
    return Policy(ControlRoute::kTrustKey, remove ? Action::kTrustRemove : Action::kTrustAdd, "trust:" + name, name);
  }
  if (s.size() == 3 && s[1] == "tokens") {
    std::string id(s[2]);
    return Policy(ControlRoute::kToken, Action::kTokenRevoke, "token:" + id, id);
  }
  if (s.size() == 4 && s[1] == "users" && s[3] == "disable") {
    std::string name(s[2]);
    return Policy(ControlRoute::kUserDisable, Action::kUserDisable, "user:" + name, name);
  }
  if (s.size() == 5 && s[1] == "models" && s[3] == "versions") {
    std::string name(s[2]), version(s[4]);
    return Policy(ControlRoute::kModelVersion, remove ? Action::kModelRemove : Action::kModelPush,
                  "model:" + name + "/versions/" + version, name, version);
  }
  return std::nullopt;
}

bool HasControlPlaneRole(const auth::Principal& principal) {
  for (const auto& g : principal.subject.grants) {
    if (policy::HasControlPlaneActions(g.role)) return true;
  }
  return false;
}

// Authentication and authorization for `route`; false when the plan already
// holds the refusal.
bool Admit(const Services& services, const http::RequestHead& head, const MatchedRoute& route,
           std::optional<auth::Principal>& principal, http::Plan& plan, audit::AuditEvent& event) {
  if (route.guard == Guard::kNone || route.guard == Guard::kPublicAsset) return true;
  principal = internal::Authenticate(services, head, plan, event);
  if (!principal) return false;
  if (route.guard == Guard::kAuthenticated) return true;
  if (!HasControlPlaneRole(*principal)) {
    internal::Deny(services, "this identity has no control-plane role", plan, event);
    return false;
  }
  const auto permission = policy::RequiredPermission(route.action);
  const bool scoped = permission && policy::IsModelScoped(*permission);
  return internal::Authorize(services, *principal, route.action, scoped ? route.name : "", plan, event);
}

}  // namespace

http::Plan ControlPlane::Begin(const http::RequestHead& head) {
  auto route = Match(head);
  if (!route) {
    http::Plan plan = internal::Respond(http::Response::Error(404, "no such endpoint"));
    internal::AuditOnComplete(plan, services_, internal::StartUnroutedEvent(head));
    return plan;
  }
  http::Plan plan;
  audit::AuditEvent event = internal::StartEvent(head, route->action, route->resource);
  auto late = std::make_shared<internal::LateOutcome>();
  std::optional<auth::Principal> principal;
  if (Admit(services_, head, *route, principal, plan, event)) {
    static const auth::Principal kAnonymous{"anonymous", auth::Method::kToken, "", {}};
    internal::ControlRequest request{services_, head, principal ? *principal : kAnonymous, plan, event};
    switch (route->route) {
      case ControlRoute::kModels:
        internal::PlanModelList(request);
        break;
      case ControlRoute::kModelVersion:
        internal::PlanModelVersion(request, route->name, route->version, late);
        break;
      case ControlRoute::kAudit:
        internal::PlanAuditRead(request);
        break;
      case ControlRoute::kTrust:
        internal::PlanTrustList(request);
        break;
      case ControlRoute::kTrustKey:
        internal::PlanTrustKey(request, route->name);
        break;
      case ControlRoute::kTokens:
        internal::PlanTokens(request);
        break;
      case ControlRoute::kToken:
        internal::PlanTokenRevoke(request, route->name);
        break;
      case ControlRoute::kUsers:
        internal::PlanUsers(request, late);
        break;
      case ControlRoute::kUserDisable:
        internal::PlanUserDisable(request, route->name);
        break;
      case ControlRoute::kLogin:
        internal::PlanLogin(request, late);
        break;
      case ControlRoute::kLogout:
        internal::PlanLogout(request);
        break;
      case ControlRoute::kWhoami:
        internal::PlanWhoami(request);
        break;
      case ControlRoute::kMetrics:
        internal::PlanMetrics(request);
        break;
      case ControlRoute::kDashboard:
        internal::PlanDashboard(request);
        break;
      case ControlRoute::kDashboardAsset:
        internal::PlanDashboardAsset(request);
        break;
    }
  }
  internal::AuditOnComplete(plan, services_, std::move(event), std::move(late));
  return plan;
}

void ControlPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
