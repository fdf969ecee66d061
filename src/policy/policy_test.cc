#include "aegis/policy/policy.h"

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

constexpr Action kAll[] = {Action::kServerMetadata, Action::kModelMetadata, Action::kModelReady,
                           Action::kInfer,          Action::kModelList,     Action::kModelPush,
                           Action::kModelRemove,    Action::kAuditRead,     Action::kMetricsRead,
                           Action::kTrustList,      Action::kTrustChange,   Action::kTokenManage,
                           Action::kUserManage,     Action::kKeyManage,     Action::kPromotionApprove};

// The role table of policy.h, written out independently: every pair not here is denied.
bool Expected(Role role, Action a) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kDeployer:
      return a == Action::kModelList || a == Action::kModelPush || a == Action::kModelRemove;
    case Role::kApprover:
      return a == Action::kModelList || a == Action::kPromotionApprove;
    case Role::kAuditor:
      return a == Action::kAuditRead || a == Action::kMetricsRead || a == Action::kModelList || a == Action::kTrustList;
    case Role::kConsumer:
      return a == Action::kServerMetadata || a == Action::kModelMetadata || a == Action::kModelReady ||
             a == Action::kInfer;
  }
  return false;
}

TEST(PolicyTest, RoleTableForEveryRoleAndAction) {
  for (Role role : {Role::kAdmin, Role::kDeployer, Role::kApprover, Role::kAuditor, Role::kConsumer}) {
    for (Action action : kAll) {
      auto d = Authorize(Service(role), action, IsModelScoped(action) ? "m" : "", kNow);
      EXPECT_EQ(d.allowed, Expected(role, action)) << RoleName(role) << " " << ActionName(action);
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
  EXPECT_TRUE(Authorize(consumer, Action::kInfer, "fraud-mlp", kNow).allowed);
  EXPECT_EQ(Authorize(consumer, Action::kInfer, "fraud-mlp", kNow).grant, "consumer:fraud-*");
  EXPECT_FALSE(Authorize(consumer, Action::kInfer, "credit-mlp", kNow).allowed);
  EXPECT_FALSE(Authorize(consumer, Action::kInfer, "xfraud-mlp", kNow).allowed);
  EXPECT_TRUE(Authorize(consumer, Action::kServerMetadata, "", kNow).allowed);  // not model-scoped
  Subject deployer = Service(Role::kDeployer, "m?");
  EXPECT_TRUE(Authorize(deployer, Action::kModelPush, "m1", kNow).allowed);
  EXPECT_FALSE(Authorize(deployer, Action::kModelPush, "m12", kNow).allowed);
  EXPECT_TRUE(InScope(deployer, Action::kModelList, "m1"));
  EXPECT_FALSE(InScope(deployer, Action::kModelList, "x"));
}

TEST(PolicyTest, ListingNeedsTheRoleButNoParticularModel) {
  auto d = AuthorizeListing(Service(Role::kDeployer, "fraud-*"), Action::kModelList);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.grant, "deployer:fraud-*");
  EXPECT_TRUE(AuthorizeListing(Service(Role::kAuditor), Action::kModelList).allowed);
  EXPECT_FALSE(AuthorizeListing(Service(Role::kConsumer, "fraud-*"), Action::kModelList).allowed);
  EXPECT_FALSE(AuthorizeListing(Subject{}, Action::kModelList).allowed);
  EXPECT_FALSE(AuthorizeListing(Service(Role::kAdmin), Action::kTokenManage).allowed);  // never sensitive ones
}

TEST(PolicyTest, SeveralGrantsAreTriedInTurn) {
  Subject s{{Grant{Role::kConsumer, "a-*"}, Grant{Role::kDeployer, "b-*"}}, false, {}};
  EXPECT_EQ(Authorize(s, Action::kInfer, "a-1", kNow).grant, "consumer:a-*");
  EXPECT_EQ(Authorize(s, Action::kModelPush, "b-1", kNow).grant, "deployer:b-*");
  EXPECT_FALSE(Authorize(s, Action::kInfer, "b-1", kNow).allowed);
  EXPECT_FALSE(Authorize(s, Action::kModelPush, "a-1", kNow).allowed);
}

TEST(PolicyTest, NoGrantsMeansNothing) {
  Subject none;
  for (Action action : kAll) EXPECT_FALSE(Authorize(none, action, "m", kNow).allowed);
}

TEST(PolicyTest, SensitiveActionsNeedFreshMfaForPeople) {
  for (Action action : {Action::kTrustChange, Action::kTokenManage, Action::kUserManage, Action::kKeyManage}) {
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
  EXPECT_TRUE(Authorize(Person(Role::kAdmin, kNow - minutes(60)), Action::kModelList, "m", kNow).allowed);
  EXPECT_FALSE(IsSensitive(Action::kTrustList));
}

TEST(PolicyTest, UnscopableRolesIgnoreGlobs) {
  EXPECT_FALSE(IsScopable(Role::kAdmin));
  EXPECT_FALSE(IsScopable(Role::kAuditor));
  EXPECT_TRUE(IsScopable(Role::kConsumer));
  // A stored admin grant with a glob (hand-edited) still means every model.
  EXPECT_TRUE(Authorize(Service(Role::kAdmin, "x-*"), Action::kInfer, "y", kNow).allowed);
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
