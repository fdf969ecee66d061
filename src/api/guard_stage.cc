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

}  // namespace

bool GuardSource(const Services& services, const http::RequestHead& head, http::Plan& plan, audit::AuditEvent& event) {
  if (services.guard == nullptr) return true;
  auto refusal = services.guard->CheckSource(SourceAddress(head.remote_address));
  if (!refusal) return true;
  Refuse(services, std::move(*refusal), plan, event);
  return false;
}

void CountFailedAuthentication(const Services& services, const http::RequestHead& head) {
  if (services.guard != nullptr) services.guard->AuthenticationFailed(SourceAddress(head.remote_address));
}

bool GuardPrincipal(const Services& services, const auth::Principal& principal, std::string_view model,
                    http::Plan& plan, audit::AuditEvent& event) {
  if (services.guard == nullptr) return true;
  const guard::RateLimit own{principal.limits.rate_per_second, principal.limits.burst, principal.limits.quota_per_day};
  guard::RequestGuard::Admission admission = services.guard->Admit(principal.name, own, model);
  if (admission.refusal) {
    Refuse(services, std::move(*admission.refusal), plan, event);
    return false;
  }
  plan.held = std::move(admission.slot);
  return true;
}

}  // namespace aegis::api::internal
