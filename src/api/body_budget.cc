#include "body_budget.h"

namespace aegis::api::internal {

void BudgetBody(const Services& services, const auth::Principal& principal, http::Plan& plan,
                const std::shared_ptr<LateOutcome>& late) {
  if (services.body_budget == nullptr) return;
  // std::function must be copyable; the plan holds the only copy, so the
  // reservation goes with the plan.
  auto reservation = std::make_shared<guard::MemoryBudget::Reservation>(services.body_budget->Open(principal.name));
  plan.reserve_body = [reservation, late](uint64_t bytes) -> std::optional<http::Response> {
    const guard::BudgetRefusal refusal = reservation->GrowTo(bytes);
    if (refusal == guard::BudgetRefusal::kNone) return std::nullopt;
    // Both are transient: bodies in flight finish within the read timeout.
    const char* reason = refusal == guard::BudgetRefusal::kPrincipal
                             ? "too many request bytes in flight for this principal; retry later"
                             : "server busy: request bodies in memory are at their limit; retry later";
    late->reason = reason;
    return ErrorResponse(Status::Unavailable(reason));
  };
}

}  // namespace aegis::api::internal
