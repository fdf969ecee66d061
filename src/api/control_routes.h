// The control plane's route handlers (internal to the api module). The table in
// control_plane.cc maps each method and path to one of these; the dispatcher
// (route_table.h) has already matched the method, authenticated the caller and
// asked the policy when a handler runs. Each fills the plan (an immediate
// answer, a handler for the worker pool, or a body sink) and may note in the
// audit event why it refused. Path params: {model} and {version}, {name} (a
// trusted key, a user or a principal), {id} (a token or an incident).
//
// Thread-safety: stateless functions; the handlers they install copy Services.
#pragma once

#include "aegis/auth/principal.h"
#include "route_table.h"

namespace aegis::api::internal {

// GET /v1/models — only the models the principal may list.
void PlanModelList(RouteRequest& r, const auth::Principal& principal);
// PUT /v1/models/{model}/versions/{version}?format=… — streams into the registry;
// a refusal found only once the body is in is reported via the late outcome.
void PlanModelPush(RouteRequest& r, const auth::Principal& principal);
// DELETE /v1/models/{model}/versions/{version}
void PlanModelRemove(RouteRequest& r, const auth::Principal& principal);
// PUT /v1/models/{model}/versions/{version}/baseline: compute and store the
// version's input baseline from a sample (JSON v2 body or .npy).
void PlanBaselineSet(RouteRequest& r, const auth::Principal& principal);
// GET /v1/models/{model}/versions/{version}/baseline: its summary.
void PlanBaselineRead(RouteRequest& r, const auth::Principal& principal);

// GET /v1/audit?limit=N[&from_seq=N][&since=T]
void PlanAuditRead(RouteRequest& r, const auth::Principal& principal);
// GET /v1/trust
void PlanTrustList(RouteRequest& r, const auth::Principal& principal);
// PUT /v1/trust/{name}
void PlanTrustAdd(RouteRequest& r, const auth::Principal& principal);
// DELETE /v1/trust/{name}
void PlanTrustRemove(RouteRequest& r, const auth::Principal& principal);

// POST /v1/tokens
void PlanTokenCreate(RouteRequest& r, const auth::Principal& principal);
// GET /v1/tokens
void PlanTokenList(RouteRequest& r, const auth::Principal& principal);
// DELETE /v1/tokens/{id}
void PlanTokenRevoke(RouteRequest& r, const auth::Principal& principal);
// POST /v1/users (the refusal reason goes to the late outcome)
void PlanUserAdd(RouteRequest& r, const auth::Principal& principal);
// GET /v1/users
void PlanUserList(RouteRequest& r, const auth::Principal& principal);
// POST /v1/users/{name}/disable | enable | unlock | reset-totp and
// DELETE /v1/users/{name} (user_routes.cc: no acting on one's own account
// but to disable it, and never away with the last administrator).
void PlanUserDisable(RouteRequest& r, const auth::Principal& principal);
void PlanUserEnable(RouteRequest& r, const auth::Principal& principal);
void PlanUserUnlock(RouteRequest& r, const auth::Principal& principal);
void PlanUserResetTotp(RouteRequest& r, const auth::Principal& principal);
void PlanUserRemove(RouteRequest& r, const auth::Principal& principal);
// POST /v1/login (no credential; the audit event names the user and the real
// reason of a refusal via the late outcome, the caller sees one generic answer)
void PlanLogin(RouteRequest& r);
// POST /v1/logout (a session ends itself)
void PlanLogout(RouteRequest& r, const auth::Principal& principal);
// GET /v1/whoami
void PlanWhoami(RouteRequest& r, const auth::Principal& principal);

// GET /v1/incidents[?state=S][&limit=N] — newest first.
void PlanIncidentList(RouteRequest& r, const auth::Principal& principal);
// GET /v1/incidents/{id}
void PlanIncidentRead(RouteRequest& r, const auth::Principal& principal);
// POST /v1/incidents/{id}/ack
void PlanIncidentAck(RouteRequest& r, const auth::Principal& principal);
// POST /v1/incidents/{id}/resolve with {"note": TEXT}
void PlanIncidentResolve(RouteRequest& r, const auth::Principal& principal);
// POST /v1/principals/{name}/suspend ({name}: "token:ci", "user:alice", ...)
void PlanPrincipalSuspend(RouteRequest& r, const auth::Principal& principal);
// POST /v1/principals/{name}/reinstate
void PlanPrincipalReinstate(RouteRequest& r, const auth::Principal& principal);

// GET /metrics — the Prometheus text exposition.
void PlanMetrics(RouteRequest& r, const auth::Principal& principal);
// GET /v1/dashboard — the live dashboard's data.
void PlanDashboard(RouteRequest& r, const auth::Principal& principal);
// GET|HEAD /, /dashboard/app.js, /dashboard/app.css and /dashboard/favicon.svg:
// the dashboard's embedded files, with AddBrowserHardening's headers.
void PlanDashboardAsset(RouteRequest& r);
// Any other path under /dashboard: 404, with AddBrowserHardening's headers.
void PlanDashboardNotFound(RouteRequest& r);

// Marks the event denied with `reason` when `status` is an integrity failure,
// or just records the reason otherwise.
void NoteRefusal(audit::AuditEvent& event, const Status& status);

}  // namespace aegis::api::internal
