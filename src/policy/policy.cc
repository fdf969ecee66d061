#include "aegis/policy/policy.h"

#include <algorithm>
#include <array>

#include "aegis/common/model_glob.h"

namespace aegis::policy {
namespace {

struct RoleInfo {
  Role role;
  std::string_view name;
};
constexpr std::array<RoleInfo, 5> kRoles{{{Role::kAdmin, "admin"},
                                          {Role::kDeployer, "deployer"},
                                          {Role::kApprover, "approver"},
                                          {Role::kAuditor, "auditor"},
                                          {Role::kConsumer, "consumer"}}};

// The whole role table: which role holds which permission. Admin is handled
// separately (everything). Listing each allowed pair, rather than denying some,
// keeps the default a denial for every permission added later.
bool RoleAllows(Role role, Permission p) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kDeployer:
      return p == Permission::kModelList || p == Permission::kModelPush || p == Permission::kModelRemove;
    case Role::kApprover:
      return p == Permission::kModelList || p == Permission::kPromotionApprove;
    case Role::kAuditor:
      return p == Permission::kAuditRead || p == Permission::kMetricsRead || p == Permission::kModelList ||
             p == Permission::kTrustList || p == Permission::kIncidentRead;
    case Role::kConsumer:
      return p == Permission::kServerMetadata || p == Permission::kModelMetadata || p == Permission::kModelReady ||
             p == Permission::kInfer;
  }
  return false;
}

bool GrantCovers(const Grant& grant, Permission permission, std::string_view model) {
  if (!RoleAllows(grant.role, permission)) return false;
  if (!IsModelScoped(permission)) return true;
  // An unscopable role applies to every model whatever its glob says (grants
  // are validated at creation, so this is only a second line).
  return !IsScopable(grant.role) || ModelGlobMatches(grant.models, model);
}

}  // namespace

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& r : kRoles) {
    if (r.name == name) return r.role;
  }
  return std::nullopt;
}

std::string_view RoleName(Role role) {
  for (const auto& r : kRoles) {
    if (r.role == role) return r.name;
  }
  return "unknown";
}

bool IsScopable(Role role) { return role == Role::kDeployer || role == Role::kApprover || role == Role::kConsumer; }

bool HasControlPlaneActions(Role role) { return role != Role::kConsumer; }

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kServerMetadata:
      return "server.metadata";
    case Permission::kModelMetadata:
      return "model.metadata";
    case Permission::kModelReady:
      return "model.ready";
    case Permission::kInfer:
      return "infer";
    case Permission::kModelList:
      return "model.list";
    case Permission::kModelPush:
      return "model.push";
    case Permission::kModelRemove:
      return "model.remove";
    case Permission::kAuditRead:
      return "audit.read";
    case Permission::kMetricsRead:
      return "metrics.read";
    case Permission::kTrustList:
      return "trust.list";
    case Permission::kTrustChange:
      return "trust.change";
    case Permission::kTokenManage:
      return "token.manage";
    case Permission::kUserManage:
      return "user.manage";
    case Permission::kKeyManage:
      return "key.manage";
    case Permission::kPromotionApprove:
      return "promotion.approve";
    case Permission::kIncidentRead:
      return "incident.read";
    case Permission::kIncidentManage:
      return "incident.manage";
  }
  return "unknown";
}

bool IsModelScoped(Permission permission) {
  switch (permission) {
    case Permission::kModelMetadata:
    case Permission::kModelReady:
    case Permission::kInfer:
    case Permission::kModelList:
    case Permission::kModelPush:
    case Permission::kModelRemove:
    case Permission::kPromotionApprove:
      return true;
    default:
      return false;
  }
}

bool IsSensitive(Permission permission) {
  return permission == Permission::kTrustChange || permission == Permission::kTokenManage ||
         permission == Permission::kUserManage || permission == Permission::kKeyManage ||
         permission == Permission::kIncidentManage;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kServerMetadata:
      return "server.metadata";
    case Action::kServerLive:
      return "server.live";
    case Action::kServerReady:
      return "server.ready";
    case Action::kModelMetadata:
      return "model.metadata";
    case Action::kModelReady:
      return "model.ready";
    case Action::kModelReadyPublic:
      return "model.ready_public";
    case Action::kInfer:
      return "infer";
    case Action::kModelList:
      return "model.list";
    case Action::kModelPush:
      return "model.push";
    case Action::kModelRemove:
      return "model.remove";
    case Action::kAuditRead:
      return "audit.read";
    case Action::kMetricsRead:
      return "metrics.read";
    case Action::kDashboardRead:
      return "dashboard.read";
    case Action::kDashboardPage:
      return "dashboard.page";
    case Action::kTrustList:
      return "trust.list";
    case Action::kTrustAdd:
      return "trust.add";
    case Action::kTrustRemove:
      return "trust.remove";
    case Action::kTokenCreate:
      return "token.create";
    case Action::kTokenList:
      return "token.list";
    case Action::kTokenRevoke:
      return "token.revoke";
    case Action::kUserAdd:
      return "user.add";
    case Action::kUserList:
      return "user.list";
    case Action::kUserDisable:
      return "user.disable";
    case Action::kUserEnable:
      return "user.enable";
    case Action::kUserUnlock:
      return "user.unlock";
    case Action::kUserResetTotp:
      return "user.reset_totp";
    case Action::kUserRemove:
      return "user.remove";
    case Action::kLogin:
      return "login";
    case Action::kLogout:
      return "logout";
    case Action::kWhoami:
      return "whoami";
    case Action::kIncidentList:
      return "incident.list";
    case Action::kIncidentRead:
      return "incident.read";
    case Action::kIncidentAck:
      return "incident.ack";
    case Action::kIncidentResolve:
      return "incident.resolve";
    case Action::kPrincipalSuspend:
      return "principal.suspend";
    case Action::kPrincipalReinstate:
      return "principal.reinstate";
    case Action::kBaselineSet:
      return "model.baseline";
    case Action::kBaselineRead:
      return "model.baseline_read";
  }
  return "unknown";
}

std::string Grant::Describe() const { return std::string(RoleName(role)) + ":" + models; }

Decision Authorize(const Subject& subject, Permission permission, std::string_view model,
                   std::chrono::system_clock::time_point now) {
  const Grant* matched = nullptr;
  for (const Grant& g : subject.grants) {
    if (GrantCovers(g, permission, model)) {
      matched = &g;
      break;
    }
  }
  if (matched == nullptr) {
    Decision d;
    d.reason = subject.grants.empty()
                   ? "no role is granted to this identity"
                   : "not allowed to " + std::string(PermissionName(permission)) +
                         (IsModelScoped(permission) && !model.empty() ? " on model '" + std::string(model) + "'"
                                                                      : std::string());
    return d;
  }
  if (IsSensitive(permission)) {
    if (subject.human) {
      const bool fresh = subject.mfa_at && now - *subject.mfa_at <= kSensitiveMfaWindow && *subject.mfa_at <= now;
      if (!fresh) return {false, "", "this action needs a login with MFA in the last 15 minutes: run aegis login"};
    } else if (matched->role != Role::kAdmin) {
      return {false, "", "this action needs the admin role"};
    }
  }
  return {true, matched->Describe(), ""};
}

Decision AuthorizeListing(const Subject& subject, Permission permission) {
  if (!IsSensitive(permission)) {
    for (const Grant& g : subject.grants) {
      if (RoleAllows(g.role, permission)) return {true, g.Describe(), ""};
    }
  }
  return {false, "", "not allowed to " + std::string(PermissionName(permission))};
}

Decision AuthorizeAction(const Subject& subject, Action action, std::string_view model,
                         std::chrono::system_clock::time_point now) {
  const std::optional<Permission> permission = RequiredPermission(action);
  if (!permission) return {false, "", "not allowed to " + std::string(ActionName(action))};
  // model.list is the one listing: the caller filters what it shows with InScope.
  if (*permission == Permission::kModelList) return AuthorizeListing(subject, *permission);
  return Authorize(subject, *permission, model, now);
}

bool IsAdministrator(const Subject& subject) {
  return std::any_of(subject.grants.begin(), subject.grants.end(),
                     [](const Grant& g) { return g.role == Role::kAdmin; });
}

bool InScope(const Subject& subject, Permission permission, std::string_view model) {
  for (const Grant& g : subject.grants) {
    if (GrantCovers(g, permission, model)) return true;
  }
  return false;
}

}  // namespace aegis::policy
