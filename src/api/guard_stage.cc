#include "guard_stage.h"

#include <string>
#include <utility>

#include "request_pipeline.h"

namespace aegis::api::internal {
namespace {

void Refuse(const Services& services, guard::GuardRefusal refusal, http::Plan& plan, audit::AuditEvent& event) {
  if (services.monitor != nullptr) services.monitor->RateLimited(refusal.reason);
  event.decision = audit::Decision::kDeny;
  event.reason = "rate limited (" + std::string(guard::GuardReasonName(refusal.reason)) + "): " + refusal.message;
  http::Response response = http::Response::Error(429, refusal.message);
  for (auto& header : refusal.headers) response.headers.push_back(std::move(header));
  plan.immediate = std::move(response);
}

// The rate_abuse detector: one incident when a principal keeps being refused
// (RefusalTracker's threshold), raised off this thread.
void NoteRefusal(const Services& services, const auth::Principal& principal, std::string_view model,
                 guard::GuardReason reason, const audit::AuditEvent& event) {
  if (services.refusals == nullptr || services.incidents == nullptr) return;
  if (!services.refusals->Refused(principal.name, services.clock->Steady())) return;
  incident::IncidentSignal signal;
  signal.kind = incident::IncidentKind::kRateAbuse;
  signal.severity = incident::Severity::kMedium;
  signal.principal = principal.name;
  signal.model = std::string(model);
  signal.source = SourceAddress(event.remote);
  signal.administrator = policy::IsAdministrator(principal.subject);
  signal.evidence = {{"refusals", std::to_string(services.refusals->threshold()) + " within " +
                                      std::to_string(services.refusals->window().count()) + " s"},
                     {"latest_reason", std::string(guard::GuardReasonName(reason))}};
  services.incidents->Post(std::move(signal));
}

}  // namespace

bool GuardSource(const Services& services, const http::RequestHead& head, http::Plan& plan, audit::AuditEvent& event) {
  if (services.guard == nullptr) return true;
  auto refusal = services.guard->CheckSource(ClientSource(services, head));
  if (!refusal) return true;
  Refuse(services, std::move(*refusal), plan, event);
  return false;
}

void CountFailedAuthentication(const Services& services, const http::RequestHead& head) {
  if (services.guard != nullptr) services.guard->AuthenticationFailed(ClientSource(services, head));
}

bool GuardPrincipal(const Services& services, const auth::Principal& principal, std::string_view model,
                    http::Plan& plan, audit::AuditEvent& event) {
  if (services.guard == nullptr) return true;
  const guard::RateLimit own{principal.limits.rate_per_second, principal.limits.burst, principal.limits.quota_per_day};
  guard::RequestGuard::Admission admission = services.guard->Admit(principal.name, own, model);
  if (admission.refusal) {
    const guard::GuardReason reason = admission.refusal->reason;
    Refuse(services, std::move(*admission.refusal), plan, event);
    NoteRefusal(services, principal, model, reason, event);
    return false;
  }
  plan.held = std::move(admission.slot);
  return true;
}

}  // namespace aegis::api::internal
