// RBAC: built-in roles, the actions they allow, grants (role × model glob) and
// the one decision function every request goes through. Deny by default:
// anything no grant allows is refused.
//
//   role      what it may do
//   admin     everything (never scoped to models)
//   deployer  push, remove and list models in its scope
//   approver  list models in its scope; approve promotions (a later issue)
//   auditor   read the audit log, metrics, the model list and the trust store;
//             never inference (never scoped)
//   consumer  inference, model metadata and readiness for models in its scope;
//             server metadata
//
// "Sensitive" actions (users, tokens, the trust store, keys) additionally need
// a fresh MFA login for people or the admin role for services (see Authorize).
//
// Thread-safety: pure functions over value types.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::policy {

enum class Role { kAdmin, kDeployer, kApprover, kAuditor, kConsumer };

// "admin", "deployer", ... ; nullopt for anything else (case-sensitive).
std::optional<Role> ParseRole(std::string_view name);
std::string_view RoleName(Role role);
// Whether grants of this role may name a model glob other than "*".
bool IsScopable(Role role);
// Whether the role has any control-plane action.
bool HasControlPlaneActions(Role role);

enum class Action {
  // data plane
  kServerMetadata,  // GET /v2
  kModelMetadata,   // GET /v2/models/{m}[/versions/{v}]
  kModelReady,      // GET …/ready
  kInfer,           // POST …/infer
  // control plane
  kModelList,         // GET /v1/models (filtered to the scope)
  kModelPush,         // PUT /v1/models/{m}/versions/{v}
  kModelRemove,       // DELETE /v1/models/{m}/versions/{v}
  kAuditRead,         // GET /v1/audit
  kMetricsRead,       // GET /metrics
  kTrustList,         // GET /v1/trust
  kTrustChange,       // PUT|DELETE /v1/trust/{name}           (sensitive)
  kTokenManage,       // POST|GET|DELETE /v1/tokens…            (sensitive)
  kUserManage,        // POST|GET /v1/users…                    (sensitive)
  kKeyManage,         // key operations (a later issue)          (sensitive)
  kPromotionApprove,  // a later issue
};

// The audit name of an action: "infer", "model.push", "token.manage", ...
std::string_view ActionName(Action action);
// Whether the action takes a model name (and so is checked against globs).
bool IsModelScoped(Action action);
bool IsSensitive(Action action);

// One role on the models matching `models` ("*" = all).
struct Grant {
  Role role;
  std::string models = "*";
  // "consumer:fraud-*" — what the audit log records as the matching grant.
  std::string Describe() const;
};

// What the policy needs to know about the caller.
struct Subject {
  std::vector<Grant> grants;
  // True for people (password + TOTP sessions); false for services (API
  // tokens, JWTs, client certificates).
  bool human = false;
  // For people: when the session's MFA login happened.
  std::optional<std::chrono::system_clock::time_point> mfa_at;
};

// People must have logged in with MFA this recently for sensitive actions.
inline constexpr std::chrono::minutes kSensitiveMfaWindow{15};

struct Decision {
  bool allowed = false;
  std::string grant;   // Describe() of the grant that allowed it; empty if denied
  std::string reason;  // why denied (safe to show the caller); empty if allowed
};

// Decides whether `subject` may perform `action` on `model` (empty for actions
// that are not model-scoped). Allowed when some grant's role allows the action
// and, for model-scoped actions, its glob matches the model. A sensitive action
// additionally needs, for people, an MFA login within kSensitiveMfaWindow of
// `now` and, for services, a grant of the admin role.
Decision Authorize(const Subject& subject, Action action, std::string_view model,
                   std::chrono::system_clock::time_point now);

// For listings (model.list): allowed when some grant's role allows `action`
// on any model; the caller then shows only what InScope admits. Never for
// sensitive actions (denied).
Decision AuthorizeListing(const Subject& subject, Action action);

// Whether any grant lets `subject` see `model` for `action` (for filtering
// lists; ignores the sensitive-action rule).
bool InScope(const Subject& subject, Action action, std::string_view model);

}  // namespace aegis::policy
