// The memory budget stage of the data plane: an authorized inference reserves
// its body's bytes (guard::MemoryBudget) before the server reads them, by the
// declared Content-Length or, for a chunked body, as its buffer grows. A body
// that does not fit is answered at once with 503 and Retry-After, its bytes
// left unread. Internal to the api module.
//
// The reservation is owned by the plan, so it is released however the request
// ends (answered, refused, client gone, timed out, server stopping).
//
// Thread-safety: stateless; the plan it fills is used by one request.
#pragma once

#include <memory>

#include "aegis/api/services.h"
#include "aegis/auth/principal.h"
#include "aegis/http/message.h"
#include "request_pipeline.h"

namespace aegis::api::internal {

// Sets plan.reserve_body for `principal` when the services have a budget. A
// refusal's reason is written to `late` for the request's audit event.
void BudgetBody(const Services& services, const auth::Principal& principal, http::Plan& plan,
                const std::shared_ptr<LateOutcome>& late);

}  // namespace aegis::api::internal
