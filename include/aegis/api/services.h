// The services the API handlers use, wired together once by `aegis serve`.
//
// Thread-safety: every pointee is itself safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>

#include "aegis/audit/audit_log.h"
#include "aegis/auth/authenticator.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/user_directory.h"
#include "aegis/common/clock.h"
#include "aegis/monitor/monitor.h"
#include "aegis/registry/registry.h"

namespace aegis::api {

struct ApiLimits {
  uint64_t max_body_bytes = 64ull << 20;  // inference requests
  uint64_t max_model_bytes = 4ull << 30;  // model uploads
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
  ApiLimits limits;
};

}  // namespace aegis::api
