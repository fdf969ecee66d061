#include "aegis/api/control_plane.h"

#include "control_routes.h"

namespace aegis::api {
namespace {

using internal::Anonymous;
using internal::Authenticated;
using internal::Granted;
using policy::Action;
using policy::Permission;

// Where a path has several methods the writing route comes first: a method no
// route has is audited and authorized as that one (see route_table.h).
constexpr internal::Route kRoutes[] = {
    // Prometheus scrapes /metrics by convention.
    Granted("GET", "/metrics", "metrics", Action::kMetricsRead, Permission::kMetricsRead, internal::PlanMetrics),
    Granted("GET", "/v1/dashboard", "dashboard", Action::kDashboardRead, Permission::kMetricsRead,
            internal::PlanDashboard),

    Granted("GET", "/v1/models", "models", Action::kModelList, Permission::kModelList, internal::PlanModelList),
    Granted("PUT", "/v1/models/{model}/versions/{version}", "model:{model}/versions/{version}", Action::kModelPush,
            Permission::kModelPush, internal::PlanModelPush),
    Granted("DELETE", "/v1/models/{model}/versions/{version}", "model:{model}/versions/{version}", Action::kModelRemove,
            Permission::kModelRemove, internal::PlanModelRemove),
    Granted("PUT", "/v1/models/{model}/versions/{version}/baseline", "model:{model}/versions/{version}",
            Action::kBaselineSet, Permission::kModelPush, internal::PlanBaselineSet),
    Granted("GET", "/v1/models/{model}/versions/{version}/baseline", "model:{model}/versions/{version}",
            Action::kBaselineRead, Permission::kModelPush, internal::PlanBaselineRead),

    Granted("GET", "/v1/audit", "audit", Action::kAuditRead, Permission::kAuditRead, internal::PlanAuditRead),
    Granted("GET", "/v1/trust", "trust", Action::kTrustList, Permission::kTrustList, internal::PlanTrustList),
    Granted("PUT", "/v1/trust/{name}", "trust:{name}", Action::kTrustAdd, Permission::kTrustChange,
            internal::PlanTrustAdd),
    Granted("DELETE", "/v1/trust/{name}", "trust:{name}", Action::kTrustRemove, Permission::kTrustChange,
            internal::PlanTrustRemove),

    Granted("POST", "/v1/tokens", "tokens", Action::kTokenCreate, Permission::kTokenManage, internal::PlanTokenCreate),
    Granted("GET", "/v1/tokens", "tokens", Action::kTokenList, Permission::kTokenManage, internal::PlanTokenList),
    Granted("DELETE", "/v1/tokens/{id}", "token:{id}", Action::kTokenRevoke, Permission::kTokenManage,
            internal::PlanTokenRevoke),
    Granted("POST", "/v1/users", "users", Action::kUserAdd, Permission::kUserManage, internal::PlanUserAdd),
    Granted("GET", "/v1/users", "users", Action::kUserList, Permission::kUserManage, internal::PlanUserList),
    Granted("POST", "/v1/users/{name}/disable", "user:{name}", Action::kUserDisable, Permission::kUserManage,
            internal::PlanUserDisable),
    Granted("POST", "/v1/users/{name}/enable", "user:{name}", Action::kUserEnable, Permission::kUserManage,
            internal::PlanUserEnable),
    Granted("POST", "/v1/users/{name}/unlock", "user:{name}", Action::kUserUnlock, Permission::kUserManage,
            internal::PlanUserUnlock),
    Granted("POST", "/v1/users/{name}/reset-totp", "user:{name}", Action::kUserResetTotp, Permission::kUserManage,
            internal::PlanUserResetTotp),
    Granted("DELETE", "/v1/users/{name}", "user:{name}", Action::kUserRemove, Permission::kUserManage,
            internal::PlanUserRemove),

    Granted("GET", "/v1/incidents", "incidents", Action::kIncidentList, Permission::kIncidentRead,
            internal::PlanIncidentList),
    Granted("GET", "/v1/incidents/{id}", "incident:{id}", Action::kIncidentRead, Permission::kIncidentRead,
            internal::PlanIncidentRead),
    Granted("POST", "/v1/incidents/{id}/ack", "incident:{id}", Action::kIncidentAck, Permission::kIncidentManage,
            internal::PlanIncidentAck),
    Granted("POST", "/v1/incidents/{id}/resolve", "incident:{id}", Action::kIncidentResolve,
            Permission::kIncidentManage, internal::PlanIncidentResolve),
    Granted("POST", "/v1/principals/{name}/suspend", "principal:{name}", Action::kPrincipalSuspend,
            Permission::kIncidentManage, internal::PlanPrincipalSuspend),
    Granted("POST", "/v1/principals/{name}/reinstate", "principal:{name}", Action::kPrincipalReinstate,
            Permission::kIncidentManage, internal::PlanPrincipalReinstate),

    Anonymous("POST", "/v1/login", "session", Action::kLogin, internal::PlanLogin),
    Authenticated("POST", "/v1/logout", "session", Action::kLogout, internal::PlanLogout),
    Authenticated("GET", "/v1/whoami", "session", Action::kWhoami, internal::PlanWhoami),

    // The dashboard's static files hold no data (the page asks for a login and
    // then reads /v1/dashboard with it). The whole /dashboard tree is the
    // dashboard's, so that its 404s carry the page's security headers too.
    Anonymous("GET", "/", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset).InBrowser(),
    Anonymous("HEAD", "/", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset).InBrowser(),
    Anonymous("GET", "/dashboard/app.js", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset)
        .InBrowser(),
    Anonymous("HEAD", "/dashboard/app.js", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset)
        .InBrowser(),
    Anonymous("GET", "/dashboard/app.css", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset)
        .InBrowser(),
    Anonymous("HEAD", "/dashboard/app.css", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset)
        .InBrowser(),
    // Served, so that the browser never asks for /favicon.ico or anything elsewhere.
    Anonymous("GET", "/dashboard/favicon.svg", "dashboard:{path}", Action::kDashboardPage, internal::PlanDashboardAsset)
        .InBrowser(),
    Anonymous("HEAD", "/dashboard/favicon.svg", "dashboard:{path}", Action::kDashboardPage,
              internal::PlanDashboardAsset)
        .InBrowser(),
    Anonymous(internal::kAnyMethod, "/dashboard/**", "dashboard:{path}", Action::kDashboardPage,
              internal::PlanDashboardNotFound)
        .InBrowser(),
};
static_assert(internal::AgreesWithPolicy(kRoutes));

}  // namespace

namespace internal {
std::span<const Route> ControlPlaneRoutes() { return kRoutes; }
}  // namespace internal

http::Plan ControlPlane::Begin(const http::RequestHead& head) {
  static constexpr internal::DispatchOptions kDispatch{
      .require_control_plane_role = true,
      .other_plane_prefix = "/v2",
      .other_plane_error =
          "no such endpoint: this is the control plane; the data plane (/v2/...) has its own "
          "address, 127.0.0.1:8443 unless --listen says otherwise"};
  return internal::Dispatch(kRoutes, kDispatch, services_, head);
}

void ControlPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
