// The control plane's routes (internal to the api module). ControlPlane::Begin
// matches the path, authenticates, and hands the request to one of these; each
// fills the plan (an immediate answer, a handler for the worker pool, or a body
// sink) and may note in the audit event why it refused.
//
// Thread-safety: stateless functions; the handlers they install copy Services.
#pragma once

#include <memory>
#include <string>

#include "aegis/api/services.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/http/message.h"
#include "request_pipeline.h"

namespace aegis::api::internal {

// The request's context, once it is authenticated.
struct ControlRequest {
  const Services& services;
  const http::RequestHead& head;
  const auth::Principal& principal;
  http::Plan& plan;
  audit::AuditEvent& event;
};

// GET /v1/models — only the models the principal may list.
void PlanModelList(ControlRequest& r);
// PUT|DELETE /v1/models/{name}/versions/{version}. A push streams into the
// registry; a refusal found only once the body is in is reported via `late`.
void PlanModelVersion(ControlRequest& r, const std::string& name, const std::string& version,
                      const std::shared_ptr<LateOutcome>& late);
// GET /v1/audit?limit=N
void PlanAuditRead(ControlRequest& r);
// GET /v1/trust
void PlanTrustList(ControlRequest& r);
// PUT|DELETE /v1/trust/{name}
void PlanTrustKey(ControlRequest& r, const std::string& name);

// POST /v1/tokens (create), GET /v1/tokens (list)
void PlanTokens(ControlRequest& r);
// DELETE /v1/tokens/{id}
void PlanTokenRevoke(ControlRequest& r, const std::string& id);
// POST /v1/users (add; the outcome's refusal reason goes to `late`), GET /v1/users (list)
void PlanUsers(ControlRequest& r, const std::shared_ptr<LateOutcome>& late);
// POST /v1/users/{name}/disable
void PlanUserDisable(ControlRequest& r, const std::string& name);
// POST /v1/login (no credential; the audit event names the user and the real
// reason of a refusal via `late`, the caller sees one generic answer)
void PlanLogin(ControlRequest& r, const std::shared_ptr<LateOutcome>& late);
// POST /v1/logout (a session ends itself)
void PlanLogout(ControlRequest& r);
// GET /v1/whoami
void PlanWhoami(ControlRequest& r);

// GET /metrics — the Prometheus text exposition (metrics.read).
void PlanMetrics(ControlRequest& r);
// GET /v1/dashboard — the live dashboard's data (metrics.read).
void PlanDashboard(ControlRequest& r);

// Marks the event denied with `reason` when `status` is an integrity failure,
// or just records the reason otherwise.
void NoteRefusal(audit::AuditEvent& event, const Status& status);

}  // namespace aegis::api::internal
