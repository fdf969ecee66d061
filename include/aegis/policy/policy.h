// RBAC: built-in roles, the permissions they grant, grants (role × model glob),
// the vocabulary of request actions with the permission each needs, and the
// decision every request goes through. Deny by default: anything no grant
// allows is refused.
//
//   role      what it may do
//   admin     everything (never scoped to models)
//   deployer  push, remove and list models in its scope
//   approver  list models in its scope; approve promotions (not built yet)
//   auditor   read the audit log, metrics, the model list, the trust store and
//             the incidents; never inference (never scoped)
//   consumer  inference, model metadata and readiness for models in its scope;
//             server metadata
//
// Roles grant permissions; each request action needs one permission (or none,
// see RequiredPermission). "Sensitive" permissions (users, tokens, the trust
// store, keys) additionally need a fresh MFA login for people or the admin role
// for services (see Authorize).
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
// Whether the role holds any control-plane permission.
bool HasControlPlaneActions(Role role);

// What a grant can allow: the columns of the role table. Several request
// actions may need one permission (token.create, token.list and token.revoke
// all need token.manage).
enum class Permission {
  kServerMetadata,    // server.metadata
  kModelMetadata,     // model.metadata
  kModelReady,        // model.ready
  kInfer,             // infer
  kModelList,         // model.list (a listing: filtered to the scope)
  kModelPush,         // model.push
  kModelRemove,       // model.remove
  kAuditRead,         // audit.read
  kMetricsRead,       // metrics.read (also the dashboard's data)
  kTrustList,         // trust.list
  kTrustChange,       // trust.change  (sensitive)
  kTokenManage,       // token.manage  (sensitive)
  kUserManage,        // user.manage   (sensitive)
  kKeyManage,         // key.manage    (sensitive; key operations are a later issue)
  kPromotionApprove,  // promotion.approve (not built yet)
  kIncidentRead,      // incident.read
  kIncidentManage,    // incident.manage (sensitive): acknowledge, resolve, suspend, reinstate
};

// "infer", "model.push", "token.manage", ... (the name denial reasons use).
std::string_view PermissionName(Permission permission);
// Whether the permission is held per model (and so checked against globs).
bool IsModelScoped(Permission permission);
bool IsSensitive(Permission permission);

// Everything a request can ask the server to do: the one vocabulary of the
// request path. ActionName is the audit event's action and RequiredPermission
// what the policy checks, so the action audited is the action authorized. (The
// server's own events, which no request causes, have their own vocabulary:
// audit::SystemAction.)
enum class Action {
  // data plane
  kServerMetadata,  // GET /v2
  kServerLive,      // GET /v2/health/live   (no credential)
  kServerReady,     // GET /v2/health/ready  (no credential)
  kModelMetadata,   // GET /v2/models/{m}[/versions/{v}]
  kModelReady,      // GET …/ready
  // GET …/ready without a credential, when [server] public_model_ready is on:
  // its own action, so that the audit log tells an anonymous probe from a
  // granted one and no grant is ever asked for it.
  kModelReadyPublic,
  kInfer,  // POST …/infer
  // control plane
  kModelList,           // GET /v1/models
  kModelPush,           // PUT /v1/models/{m}/versions/{v}
  kModelRemove,         // DELETE /v1/models/{m}/versions/{v}
  kAuditRead,           // GET /v1/audit
  kMetricsRead,         // GET /metrics
  kDashboardRead,       // GET /v1/dashboard
  kDashboardPage,       // GET|HEAD / and /dashboard/…   (no credential)
  kTrustList,           // GET /v1/trust
  kTrustAdd,            // PUT /v1/trust/{name}
  kTrustRemove,         // DELETE /v1/trust/{name}
  kTokenCreate,         // POST /v1/tokens
  kTokenList,           // GET /v1/tokens
  kTokenRevoke,         // DELETE /v1/tokens/{id}
  kUserAdd,             // POST /v1/users
  kUserList,            // GET /v1/users
  kUserDisable,         // POST /v1/users/{name}/disable
  kUserEnable,          // POST /v1/users/{name}/enable
  kUserUnlock,          // POST /v1/users/{name}/unlock
  kUserResetTotp,       // POST /v1/users/{name}/reset-totp
  kUserRemove,          // DELETE /v1/users/{name}
  kLogin,               // POST /v1/login   (no credential)
  kLogout,              // POST /v1/logout  (any credential)
  kWhoami,              // GET /v1/whoami   (any credential)
  kIncidentList,        // GET /v1/incidents
  kIncidentRead,        // GET /v1/incidents/{id}
  kIncidentAck,         // POST /v1/incidents/{id}/ack
  kIncidentResolve,     // POST /v1/incidents/{id}/resolve
  kPrincipalSuspend,    // POST /v1/principals/{name}/suspend
  kPrincipalReinstate,  // POST /v1/principals/{name}/reinstate
  kBaselineSet,         // PUT /v1/models/{m}/versions/{v}/baseline
  kBaselineRead,        // GET /v1/models/{m}/versions/{v}/baseline
};

// The audit name of an action: "infer", "model.push", "token.create", ... These
// strings are the audit log's format and never change.
std::string_view ActionName(Action action);

// The permission a request performing `action` needs; nullopt when the policy
// lets everyone who reaches the action perform it (health probes, public
// model readiness, the dashboard's static files, login, logout, whoami).
// Whether such a request must carry a credential at all is its route's
// business. Listed per action, so that an action added later does not compile
// until someone decides.
constexpr std::optional<Permission> RequiredPermission(Action action) {
  switch (action) {
    case Action::kServerMetadata:
      return Permission::kServerMetadata;
    case Action::kModelMetadata:
      return Permission::kModelMetadata;
    case Action::kModelReady:
      return Permission::kModelReady;
    case Action::kInfer:
      return Permission::kInfer;
    case Action::kModelList:
      return Permission::kModelList;
    case Action::kModelPush:
      return Permission::kModelPush;
    case Action::kModelRemove:
      return Permission::kModelRemove;
    case Action::kAuditRead:
      return Permission::kAuditRead;
    case Action::kMetricsRead:
    case Action::kDashboardRead:
      return Permission::kMetricsRead;
    case Action::kTrustList:
      return Permission::kTrustList;
    case Action::kTrustAdd:
    case Action::kTrustRemove:
      return Permission::kTrustChange;
    case Action::kTokenCreate:
    case Action::kTokenList:
    case Action::kTokenRevoke:
      return Permission::kTokenManage;
    case Action::kUserAdd:
    case Action::kUserList:
    case Action::kUserDisable:
    case Action::kUserEnable:
    case Action::kUserUnlock:
    case Action::kUserResetTotp:
    case Action::kUserRemove:
      return Permission::kUserManage;
    case Action::kIncidentList:
    case Action::kIncidentRead:
      return Permission::kIncidentRead;
    case Action::kIncidentAck:
    case Action::kIncidentResolve:
    case Action::kPrincipalSuspend:
    case Action::kPrincipalReinstate:
      return Permission::kIncidentManage;
    // The deployer who pushes a version vouches for its inputs. Reading the
    // statistics needs the same grant on that model: they summarise training
    // data, and model.list is a listing permission that is not checked per model.
    case Action::kBaselineSet:
    case Action::kBaselineRead:
      return Permission::kModelPush;
    case Action::kServerLive:
    case Action::kServerReady:
    case Action::kModelReadyPublic:
    case Action::kDashboardPage:
    case Action::kLogin:
    case Action::kLogout:
    case Action::kWhoami:
      return std::nullopt;
  }
  return std::nullopt;
}

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

// True when one of the subject's grants is the admin role (on any models).
bool IsAdministrator(const Subject& subject);

// People must have logged in with MFA this recently for sensitive actions.
inline constexpr std::chrono::minutes kSensitiveMfaWindow{15};

struct Decision {
  bool allowed = false;
  std::string grant;   // Describe() of the grant that allowed it; empty if denied
  std::string reason;  // why denied (safe to show the caller); empty if allowed
};

// Decides whether `subject` may use `permission` on `model` (empty for
// permissions that are not model-scoped). Allowed when some grant's role allows
// it and, for model-scoped permissions, its glob matches the model. A sensitive
// permission additionally needs, for people, an MFA login within
// kSensitiveMfaWindow of `now` and, for services, a grant of the admin role.
Decision Authorize(const Subject& subject, Permission permission, std::string_view model,
                   std::chrono::system_clock::time_point now);

// For listings (model.list): allowed when some grant's role allows
// `permission` on any model; the caller then shows only what InScope admits.
// Never for sensitive permissions (denied).
Decision AuthorizeListing(const Subject& subject, Permission permission);

// The decision for a request performing `action` (on `model` when its
// permission is model-scoped): Authorize with its RequiredPermission, or
// AuthorizeListing for the listing model.list. Denied for an action that needs
// no permission: asking about one means it was routed wrongly.
Decision AuthorizeAction(const Subject& subject, Action action, std::string_view model,
                         std::chrono::system_clock::time_point now);

// Whether any grant lets `subject` see `model` under `permission` (for
// filtering lists; ignores the sensitive-permission rule).
bool InScope(const Subject& subject, Permission permission, std::string_view model);

}  // namespace aegis::policy
