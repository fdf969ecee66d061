#include "aegis/policy/policy.h"

#include <set>

#include <gtest/gtest.h>

#include "aegis/common/model_glob.h"

namespace aegis::policy {
namespace {

using std::chrono::minutes;
const auto kNow = std::chrono::system_clock::time_point(std::chrono::hours(500000));

Subject Service(Role role, std::string models = "*") { return Subject{{Grant{role, std::move(models)}}, false, {}}; }
Subject Person(Role role, std::optional<std::chrono::system_clock::time_point> mfa_at) {
  return Subject{{Grant{role, "*"}}, true, mfa_at};
}

constexpr Permission kAll[] = {Permission::kServerMetadata, Permission::kModelMetadata, Permission::kModelReady,
                               Permission::kInfer,          Permission::kModelList,     Permission::kModelPush,
                               Permission::kModelRemove,    Permission::kAuditRead,     Permission::kMetricsRead,
                               Permission::kTrustList,      Permission::kTrustChange,   Permission::kTokenManage,
                               Permission::kUserManage,     Permission::kKeyManage,     Permission::kPromotionApprove,
                               Permission::kIncidentRead,   Permission::kIncidentManage};

// The role table of policy.h, written out independently: every pair not here is denied.
bool Expected(Role role, Permission a) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kDeployer:
      return a == Permission::kModelList || a == Permission::kModelPush || a == Permission::kModelRemove;
    case Role::kApprover:
      return a == Permission::kModelList || a == Permission::kPromotionApprove;
    case Role::kAuditor:
      return a == Permission::kAuditRead || a == Permission::kMetricsRead || a == Permission::kModelList ||
             a == Permission::kTrustList || a == Permission::kIncidentRead;
    case Role::kConsumer:
      return a == Permission::kServerMetadata || a == Permission::kModelMetadata || a == Permission::kModelReady ||
             a == Permission::kInfer;
  }
  return false;
}

TEST(PolicyTest, RoleTableForEveryRoleAndPermission) {
  for (Role role : {Role::kAdmin, Role::kDeployer, Role::kApprover, Role::kAuditor, Role::kConsumer}) {
    for (Permission action : kAll) {
      auto d = Authorize(Service(role), action, IsModelScoped(action) ? "m" : "", kNow);
      EXPECT_EQ(d.allowed, Expected(role, action)) << RoleName(role) << " " << PermissionName(action);
      if (d.allowed) {
        EXPECT_EQ(d.grant, std::string(RoleName(role)) + ":*");
        EXPECT_TRUE(d.reason.empty());
      } else {
        EXPECT_TRUE(d.grant.empty());
        EXPECT_FALSE(d.reason.empty());
      }
    }
  }
}

TEST(PolicyTest, ScopedGrantsApplyOnlyToMatchingModels) {
  Subject consumer = Service(Role::kConsumer, "fraud-*");
  EXPECT_TRUE(Authorize(consumer, Permission::kInfer, "fraud-mlp", kNow).allowed);
  EXPECT_EQ(Authorize(consumer, Permission::kInfer, "fraud-mlp", kNow).grant, "consumer:fraud-*");
  EXPECT_FALSE(Authorize(consumer, Permission::kInfer, "credit-mlp", kNow).allowed);
  EXPECT_FALSE(Authorize(consumer, Permission::kInfer, "xfraud-mlp", kNow).allowed);
  EXPECT_TRUE(Authorize(consumer, Permission::kServerMetadata, "", kNow).allowed);  // not model-scoped
  Subject deployer = Service(Role::kDeployer, "m?");
  EXPECT_TRUE(Authorize(deployer, Permission::kModelPush, "m1", kNow).allowed);
  EXPECT_FALSE(Authorize(deployer, Permission::kModelPush, "m12", kNow).allowed);
  EXPECT_TRUE(InScope(deployer, Permission::kModelList, "m1"));
  EXPECT_FALSE(InScope(deployer, Permission::kModelList, "x"));
}

TEST(PolicyTest, ListingNeedsTheRoleButNoParticularModel) {
  auto d = AuthorizeListing(Service(Role::kDeployer, "fraud-*"), Permission::kModelList);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.grant, "deployer:fraud-*");
  EXPECT_TRUE(AuthorizeListing(Service(Role::kAuditor), Permission::kModelList).allowed);
  EXPECT_FALSE(AuthorizeListing(Service(Role::kConsumer, "fraud-*"), Permission::kModelList).allowed);
  EXPECT_FALSE(AuthorizeListing(Subject{}, Permission::kModelList).allowed);
  EXPECT_FALSE(AuthorizeListing(Service(Role::kAdmin), Permission::kTokenManage).allowed);  // never sensitive ones
}

TEST(PolicyTest, SeveralGrantsAreTriedInTurn) {
  Subject s{{Grant{Role::kConsumer, "a-*"}, Grant{Role::kDeployer, "b-*"}}, false, {}};
  EXPECT_EQ(Authorize(s, Permission::kInfer, "a-1", kNow).grant, "consumer:a-*");
  EXPECT_EQ(Authorize(s, Permission::kModelPush, "b-1", kNow).grant, "deployer:b-*");
  EXPECT_FALSE(Authorize(s, Permission::kInfer, "b-1", kNow).allowed);
  EXPECT_FALSE(Authorize(s, Permission::kModelPush, "a-1", kNow).allowed);
}

TEST(PolicyTest, NoGrantsMeansNothing) {
  Subject none;
  for (Permission action : kAll) EXPECT_FALSE(Authorize(none, action, "m", kNow).allowed);
}

TEST(PolicyTest, SensitivePermissionsNeedFreshMfaForPeople) {
  for (Permission action : {Permission::kTrustChange, Permission::kTokenManage, Permission::kUserManage,
                            Permission::kKeyManage, Permission::kIncidentManage}) {
    EXPECT_TRUE(IsSensitive(action));
    EXPECT_TRUE(Authorize(Person(Role::kAdmin, kNow - minutes(14)), action, "", kNow).allowed);
    EXPECT_TRUE(Authorize(Person(Role::kAdmin, kNow - minutes(15)), action, "", kNow).allowed);
    auto stale = Authorize(Person(Role::kAdmin, kNow - minutes(16)), action, "", kNow);
    EXPECT_FALSE(stale.allowed);
    EXPECT_NE(stale.reason.find("MFA"), std::string::npos);
    EXPECT_FALSE(Authorize(Person(Role::kAdmin, std::nullopt), action, "", kNow).allowed);
    EXPECT_FALSE(Authorize(Person(Role::kAdmin, kNow + minutes(5)), action, "", kNow).allowed);  // from the future
    EXPECT_TRUE(Authorize(Service(Role::kAdmin), action, "", kNow).allowed);
  }
  // Not sensitive: a stale person still reads.
  EXPECT_TRUE(Authorize(Person(Role::kAdmin, kNow - minutes(60)), Permission::kModelList, "m", kNow).allowed);
  EXPECT_FALSE(IsSensitive(Permission::kTrustList));
}

TEST(PolicyTest, UnscopableRolesIgnoreGlobs) {
  EXPECT_FALSE(IsScopable(Role::kAdmin));
  EXPECT_FALSE(IsScopable(Role::kAuditor));
  EXPECT_TRUE(IsScopable(Role::kConsumer));
  // A stored admin grant with a glob (hand-edited) still means every model.
  EXPECT_TRUE(Authorize(Service(Role::kAdmin, "x-*"), Permission::kInfer, "y", kNow).allowed);
}

// Every request action with its audit name (the audit log's format: these
// strings never change) and the permission it needs, written out independently.
struct ActionRow {
  Action action;
  std::string_view name;
  std::optional<Permission> permission;
};
constexpr ActionRow kActions[] = {
    {Action::kServerMetadata, "server.metadata", Permission::kServerMetadata},
    {Action::kServerLive, "server.live", std::nullopt},
    {Action::kServerReady, "server.ready", std::nullopt},
    {Action::kModelMetadata, "model.metadata", Permission::kModelMetadata},
    {Action::kModelReady, "model.ready", Permission::kModelReady},
    {Action::kModelReadyPublic, "model.ready_public", std::nullopt},
    {Action::kInfer, "infer", Permission::kInfer},
    {Action::kModelList, "model.list", Permission::kModelList},
    {Action::kModelPush, "model.push", Permission::kModelPush},
    {Action::kModelRemove, "model.remove", Permission::kModelRemove},
    {Action::kAuditRead, "audit.read", Permission::kAuditRead},
    {Action::kMetricsRead, "metrics.read", Permission::kMetricsRead},
    {Action::kDashboardRead, "dashboard.read", Permission::kMetricsRead},
    {Action::kDashboardPage, "dashboard.page", std::nullopt},
    {Action::kTrustList, "trust.list", Permission::kTrustList},
    {Action::kTrustAdd, "trust.add", Permission::kTrustChange},
    {Action::kTrustRemove, "trust.remove", Permission::kTrustChange},
    {Action::kTokenCreate, "token.create", Permission::kTokenManage},
    {Action::kTokenList, "token.list", Permission::kTokenManage},
    {Action::kTokenRevoke, "token.revoke", Permission::kTokenManage},
    {Action::kUserAdd, "user.add", Permission::kUserManage},
    {Action::kUserList, "user.list", Permission::kUserManage},
    {Action::kUserDisable, "user.disable", Permission::kUserManage},
    {Action::kUserEnable, "user.enable", Permission::kUserManage},
    {Action::kUserUnlock, "user.unlock", Permission::kUserManage},
    {Action::kUserResetTotp, "user.reset_totp", Permission::kUserManage},
    {Action::kUserRemove, "user.remove", Permission::kUserManage},
    {Action::kLogin, "login", std::nullopt},
    {Action::kLogout, "logout", std::nullopt},
    {Action::kWhoami, "whoami", std::nullopt},
    {Action::kIncidentList, "incident.list", Permission::kIncidentRead},
    {Action::kIncidentRead, "incident.read", Permission::kIncidentRead},
    {Action::kIncidentAck, "incident.ack", Permission::kIncidentManage},
    {Action::kIncidentResolve, "incident.resolve", Permission::kIncidentManage},
    {Action::kPrincipalSuspend, "principal.suspend", Permission::kIncidentManage},
    {Action::kPrincipalReinstate, "principal.reinstate", Permission::kIncidentManage},
    {Action::kBaselineSet, "model.baseline", Permission::kModelPush},
    {Action::kBaselineRead, "model.baseline_read", Permission::kModelPush},
};

TEST(PolicyTest, EveryActionHasItsAuditNameAndPermission) {
  std::set<std::string_view> names;
  for (const ActionRow& row : kActions) {
    EXPECT_EQ(ActionName(row.action), row.name);
    EXPECT_EQ(RequiredPermission(row.action), row.permission) << row.name;
    EXPECT_TRUE(names.insert(ActionName(row.action)).second) << "duplicate name " << row.name;
  }
  // The table above lists every enumerator (the last one ends the enum).
  EXPECT_EQ(std::size(kActions), static_cast<size_t>(Action::kBaselineRead) + 1);
}

TEST(PolicyTest, AuthorizeActionChecksThePermissionOfTheAction) {
  const Subject consumer = Service(Role::kConsumer, "fraud-*");
  auto d = AuthorizeAction(consumer, Action::kInfer, "fraud-mlp", kNow);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.grant, "consumer:fraud-*");
  d = AuthorizeAction(consumer, Action::kInfer, "credit-mlp", kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "not allowed to infer on model 'credit-mlp'");
  // Finer actions share a permission, and the denial names the permission.
  const Subject auditor = Service(Role::kAuditor);
  EXPECT_TRUE(AuthorizeAction(auditor, Action::kDashboardRead, "", kNow).allowed);
  d = AuthorizeAction(auditor, Action::kTokenList, "", kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "not allowed to token.manage");
  EXPECT_TRUE(AuthorizeAction(Service(Role::kAdmin), Action::kTokenCreate, "", kNow).allowed);
  EXPECT_FALSE(AuthorizeAction(Person(Role::kAdmin, kNow - minutes(60)), Action::kUserDisable, "", kNow).allowed);
}

TEST(PolicyTest, ModelListIsAuthorizedAsAListing) {
  // A scoped deployer may list (and then sees only its models) without naming one.
  auto d = AuthorizeAction(Service(Role::kDeployer, "fraud-*"), Action::kModelList, "", kNow);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.grant, "deployer:fraud-*");
  EXPECT_FALSE(AuthorizeAction(Service(Role::kConsumer), Action::kModelList, "", kNow).allowed);
}

TEST(PolicyTest, ActionsWithoutAPermissionAreNeverAuthorized) {
  // Asking the policy about them means a route skipped its own rule: fail closed.
  for (const ActionRow& row : kActions) {
    if (row.permission) continue;
    auto d = AuthorizeAction(Service(Role::kAdmin), row.action, "", kNow);
    EXPECT_FALSE(d.allowed) << row.name;
    EXPECT_EQ(d.reason, "not allowed to " + std::string(row.name));
  }
}

TEST(PolicyTest, RoleNamesRoundTripAndUnknownNamesAreRefused) {
  for (Role role : {Role::kAdmin, Role::kDeployer, Role::kApprover, Role::kAuditor, Role::kConsumer}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_FALSE(ParseRole("Admin"));
  EXPECT_FALSE(ParseRole(""));
  EXPECT_FALSE(ParseRole("root"));
  EXPECT_FALSE(HasControlPlaneActions(Role::kConsumer));
  EXPECT_TRUE(HasControlPlaneActions(Role::kAuditor));
}

}  // namespace
}  // namespace aegis::policy

namespace aegis {
namespace {

TEST(ModelGlobTest, ValidGlobsAndTheirMatches) {
  for (const char* glob : {"*", "fraud-*", "m?", "[ab]-x", "[!a]*", "a.b_c-1"})
    EXPECT_TRUE(IsValidModelGlob(glob)) << glob;
  EXPECT_TRUE(ModelGlobMatches("fraud-*", "fraud-mlp"));
  EXPECT_FALSE(ModelGlobMatches("fraud-*", "xfraud-mlp"));
  EXPECT_TRUE(ModelGlobMatches("[ab]-x", "b-x"));
  EXPECT_FALSE(ModelGlobMatches("[!a]*", "abc"));
}

TEST(ModelGlobTest, RefusesAmbiguousOrForeignSyntax) {
  for (const char* glob : {"", "[abc", "abc]", "[]", "[!]", "[[a]]", "a!b", "[a*]", "a/b", "../x", "a b", "{a,b}"}) {
    EXPECT_FALSE(IsValidModelGlob(glob)) << glob;
  }
  EXPECT_FALSE(IsValidModelGlob(std::string(129, 'a')));
}

}  // namespace
}  // namespace aegis
