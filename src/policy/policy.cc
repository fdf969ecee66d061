#include "aegis/policy/policy.h"

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

// The whole role table: which role may perform which action. Admin is handled
// separately (everything). Listing each allowed pair, rather than denying some,
// keeps the default a denial for every action added later.
bool RoleAllows(Role role, Action action) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kDeployer:
      return action == Action::kModelList || action == Action::kModelPush || action == Action::kModelRemove;
    case Role::kApprover:
      return action == Action::kModelList || action == Action::kPromotionApprove;
    case Role::kAuditor:
      return action == Action::kAuditRead || action == Action::kMetricsRead || action == Action::kModelList ||
             action == Action::kTrustList;
    case Role::kConsumer:
      return action == Action::kServerMetadata || action == Action::kModelMetadata || action == Action::kModelReady ||
             action == Action::kInfer;
  }
  return false;
}

bool GrantCovers(const Grant& grant, Action action, std::string_view model) {
  if (!RoleAllows(grant.role, action)) return false;
  if (!IsModelScoped(action)) return true;
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

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kServerMetadata:
      return "server.metadata";
    case Action::kModelMetadata:
      return "model.metadata";
    case Action::kModelReady:
      return "model.ready";
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
    case Action::kTrustList:
      return "trust.list";
    case Action::kTrustChange:
      return "trust.change";
    case Action::kTokenManage:
      return "token.manage";
    case Action::kUserManage:
      return "user.manage";
    case Action::kKeyManage:
      return "key.manage";
    case Action::kPromotionApprove:
      return "promotion.approve";
  }
  return "unknown";
}

bool IsModelScoped(Action action) {
  switch (action) {
    case Action::kModelMetadata:
    case Action::kModelReady:
    case Action::kInfer:
    case Action::kModelList:
    case Action::kModelPush:
    case Action::kModelRemove:
    case Action::kPromotionApprove:
      return true;
    default:
      return false;
  }
}

bool IsSensitive(Action action) {
  return action == Action::kTrustChange || action == Action::kTokenManage || action == Action::kUserManage ||
         action == Action::kKeyManage;
}

std::string Grant::Describe() const { return std::string(RoleName(role)) + ":" + models; }

Decision Authorize(const Subject& subject, Action action, std::string_view model,
                   std::chrono::system_clock::time_point now) {
  const Grant* matched = nullptr;
  for (const Grant& g : subject.grants) {
    if (GrantCovers(g, action, model)) {
      matched = &g;
      break;
    }
  }
  if (matched == nullptr) {
    Decision d;
    d.reason =
        subject.grants.empty()
            ? "no role is granted to this identity"
            : "not allowed to " + std::string(ActionName(action)) +
                  (IsModelScoped(action) && !model.empty() ? " on model '" + std::string(model) + "'" : std::string());
    return d;
  }
  if (IsSensitive(action)) {
    if (subject.human) {
      const bool fresh = subject.mfa_at && now - *subject.mfa_at <= kSensitiveMfaWindow && *subject.mfa_at <= now;
      if (!fresh) return {false, "", "this action needs a login with MFA in the last 15 minutes: run aegis login"};
    } else if (matched->role != Role::kAdmin) {
      return {false, "", "this action needs the admin role"};
    }
  }
  return {true, matched->Describe(), ""};
}

Decision AuthorizeListing(const Subject& subject, Action action) {
  if (!IsSensitive(action)) {
    for (const Grant& g : subject.grants) {
      if (RoleAllows(g.role, action)) return {true, g.Describe(), ""};
    }
  }
  return {false, "", "not allowed to " + std::string(ActionName(action))};
}

bool InScope(const Subject& subject, Action action, std::string_view model) {
  for (const Grant& g : subject.grants) {
    if (GrantCovers(g, action, model)) return true;
  }
  return false;
}

}  // namespace aegis::policy
