// The services the API handlers use, wired together once by `aegis serve`.
//
// Thread-safety: every pointee is itself safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "aegis/audit/audit_log.h"
#include "aegis/auth/authenticator.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/user_directory.h"
#include "aegis/common/clock.h"
#include "aegis/guard/memory_budget.h"
#include "aegis/guard/request_guard.h"
#include "aegis/monitor/monitor.h"
#include "aegis/registry/registry.h"

namespace aegis::api {

struct ApiLimits {
  uint64_t max_body_bytes = 64ull << 20;  // inference requests
  uint64_t max_model_bytes = 4ull << 30;  // model uploads
  // The memory budget for inference bodies held in memory (guard::MemoryBudget):
  // 0 derives the total from the machine's memory at start; each principal may
  // hold this share of it.
  uint64_t body_memory_bytes = 0;
  int body_memory_principal_percent = 25;
  // The encoded inference response (JSON can be ~4x its binary tensors): larger
  // ones are refused with 500, and per model name overridden.
  uint64_t max_response_body_bytes = 64ull << 20;
  std::map<std::string, uint64_t, std::less<>> model_max_response_body_bytes;

  uint64_t ResponseLimitFor(std::string_view model) const {
    const auto it = model_max_response_body_bytes.find(model);
    return it == model_max_response_body_bytes.end() ? max_response_body_bytes : it->second;
  }
};

struct Services {
  registry::Registry* registry = nullptr;
  auth::Authenticator* authenticator = nullptr;  // every credential kind
  auth::TokenAuthenticator* tokens = nullptr;    // token management
  auth::UserDirectory* users = nullptr;          // user management and logins
  audit::AuditLog* audit = nullptr;
  monitor::Monitor* monitor = nullptr;  // metrics and the dashboard; may be null (nothing is counted)
  const Clock* clock = &Clock::Real();
  const std::atomic<bool>* draining = nullptr;  // true once shutdown began: not ready
  // Inference bodies reserve their bytes here once authorized; null: no budget (tests).
  guard::MemoryBudget* body_budget = nullptr;
  // Rate limits, quotas and concurrency caps (the guard stage); null: none (tests).
  guard::RequestGuard* guard = nullptr;
  ApiLimits limits;
};

}  // namespace aegis::api
