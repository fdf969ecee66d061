// The services the API handlers use, wired together once by `aegis serve`.
//
// Thread-safety: every pointee is itself safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aegis/audit/audit_log.h"
#include "aegis/auth/authenticator.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/user_directory.h"
#include "aegis/common/access_log.h"
#include "aegis/common/clock.h"
#include "aegis/guard/extraction_detector.h"
#include "aegis/guard/memory_budget.h"
#include "aegis/guard/output_policy.h"
#include "aegis/guard/refusal_tracker.h"
#include "aegis/guard/request_guard.h"
#include "aegis/guard/screening.h"
#include "aegis/http/trusted_proxies.h"
#include "aegis/incident/incidents.h"
#include "aegis/incident/suspensions.h"
#include "aegis/monitor/monitor.h"
#include "aegis/registry/registry.h"
#include "aegis/store/metadata_store.h"

namespace aegis::api {

// What a [models."NAME"] table sets for one model name on the API's side (how
// its engine runs is registry::ModelRuntimeOverrides). Every per-model setting
// the request path applies lives here, so one lookup by name finds them all.
struct ModelApiSettings {
  std::optional<uint64_t> max_response_body_bytes;  // unset: ApiLimits::max_response_body_bytes
  guard::OutputPolicy output_policy;                // how much of the scores leave the server
  guard::ScreeningSettings screening;               // inputs against the version's baseline
};

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
  // [models."NAME"] by model name; a name not listed has the defaults.
  std::map<std::string, ModelApiSettings, std::less<>> models;

  const ModelApiSettings& ModelSettings(std::string_view model) const {
    static const ModelApiSettings kDefaults;
    const auto it = models.find(model);
    return it == models.end() ? kDefaults : it->second;
  }
  uint64_t ResponseLimitFor(std::string_view model) const {
    return ModelSettings(model).max_response_body_bytes.value_or(max_response_body_bytes);
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
  // Security incidents (GET /v1/incidents, ...); null: not enabled (503).
  incident::Incidents* incidents = nullptr;
  // Principals refused with 403 "credential suspended" right after
  // authentication, on both planes; null: none.
  incident::Suspensions* suspensions = nullptr;
  // The rate_abuse detector over the guard stage's 429s; null: none. Raises
  // through `incidents`.
  guard::RefusalTracker* refusals = nullptr;
  // The extraction detector over answered inferences; null: none. Raises
  // through `incidents`.
  guard::ExtractionDetector* extraction = nullptr;
  // Input screening: the baselines of model versions (loaded at start, set by
  // PUT /v1/models/{m}/versions/{v}/baseline); null: no screening (tests).
  guard::Screening* screening = nullptr;
  // Where baselines are stored; null: uploads are refused (503).
  store::MetadataStore* store = nullptr;
  // [server] trusted_proxies: from a peer inside them, X-Forwarded-For names
  // the client for login throttling, lockout, the guard's per-address limits
  // and the audit event's remote; null or empty: the TCP peer always.
  const http::TrustedProxies* trusted_proxies = nullptr;
  // [logging] access_log: one line per request; null or off: none.
  AccessLog* access_log = nullptr;
  ApiLimits limits;
};

}  // namespace aegis::api
