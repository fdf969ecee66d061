#include "aegis/guard/request_guard.h"

#include <string>

#include <gtest/gtest.h>

namespace aegis::guard {
namespace {

std::string Header(const GuardRefusal& refusal, std::string_view name) {
  for (const auto& [key, value] : refusal.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

TEST(RequestGuardTest, PrincipalsHaveTheirOwnBuckets) {
  RequestGuard guard({.principal = {.per_second = 0.01, .burst = 2}});
  EXPECT_FALSE(guard.Admit("token:a", {}, "m").refusal);
  EXPECT_FALSE(guard.Admit("token:a", {}, "m").refusal);
  const auto refused = guard.Admit("token:a", {}, "m");
  ASSERT_TRUE(refused.refusal);
  EXPECT_FALSE(refused.slot);
  EXPECT_EQ(refused.refusal->reason, GuardReason::kRate);
  EXPECT_EQ(Header(*refused.refusal, "Retry-After"), "100");
  EXPECT_EQ(Header(*refused.refusal, "RateLimit-Policy"), "\"principal\";q=2;w=200");
  EXPECT_EQ(Header(*refused.refusal, "RateLimit"), "\"principal\";r=0;t=100");
  EXPECT_FALSE(guard.Admit("token:b", {}, "m").refusal);
}

TEST(RequestGuardTest, AThrottleHoldsOnePrincipalUntilItsLastHolderLetsGo) {
  RequestGuard guard({.principal = {.per_second = 1000, .burst = 1000}});
  guard.Throttle("token:a", {.per_second = 0.01, .burst = 1}, "incident-1");
  guard.Throttle("token:a", {.per_second = 0.02, .burst = 5}, "incident-2");
  EXPECT_EQ(guard.Throttled(), 1u);
  EXPECT_FALSE(guard.Admit("token:a", {}, "m").refusal) << "the lowest rate binds: a burst of 1";
  const auto refused = guard.Admit("token:a", {}, "m");
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->reason, GuardReason::kThrottle);
  EXPECT_EQ(Header(*refused.refusal, "RateLimit-Policy"), "\"principal-throttled\";q=1;w=100");
  EXPECT_FALSE(guard.Admit("token:b", {}, "m").refusal) << "others are not throttled";
  guard.Unthrottle("token:a", "incident-1");
  EXPECT_EQ(guard.Throttled(), 1u) << "incident-2 still holds it";
  guard.Unthrottle("token:a", "incident-2");
  EXPECT_EQ(guard.Throttled(), 0u);
  EXPECT_FALSE(guard.Admit("token:a", {}, "m").refusal);
  guard.Unthrottle("token:nobody", "incident-3");  // letting go of nothing is harmless
}

TEST(RequestGuardTest, ACredentialsOwnLimitReplacesTheDefault) {
  RequestGuard guard({.principal = {.per_second = 0.01, .burst = 1}});
  const RateLimit generous{.per_second = 0.01, .burst = 5};
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(guard.Admit("token:big", generous, "").refusal) << i;
  EXPECT_TRUE(guard.Admit("token:big", generous, "").refusal);
  // Only a quota of its own: the default rate still applies.
  const RateLimit quota_only{.quota_per_day = 100};
  EXPECT_FALSE(guard.Admit("token:q", quota_only, "").refusal);
  const auto refused = guard.Admit("token:q", quota_only, "");
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->reason, GuardReason::kRate);
}

TEST(RequestGuardTest, QuotaRefusalNamesTheDailyPolicy) {
  RequestGuard guard({.principal = {.quota_per_day = 1}});
  EXPECT_FALSE(guard.Admit("user:a", {}, "").refusal);
  const auto refused = guard.Admit("user:a", {}, "");
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->reason, GuardReason::kQuota);
  EXPECT_EQ(Header(*refused.refusal, "RateLimit-Policy"), "\"principal-daily\";q=1;w=86400");
  EXPECT_EQ(Header(*refused.refusal, "RateLimit").rfind("\"principal-daily\";r=0;t=", 0), 0u);
}

TEST(RequestGuardTest, AModelsOwnRateAppliesPerPrincipalOnThatModel) {
  GuardOptions options;
  options.models["slow"] = {.per_second = 0.01, .burst = 1};
  RequestGuard guard(options);
  EXPECT_FALSE(guard.Admit("token:a", {}, "slow").refusal);
  const auto refused = guard.Admit("token:a", {}, "slow");
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->reason, GuardReason::kModelRate);
  EXPECT_NE(refused.refusal->message.find("slow"), std::string::npos);
  EXPECT_FALSE(guard.Admit("token:b", {}, "slow").refusal);  // another principal
  EXPECT_FALSE(guard.Admit("token:a", {}, "fast").refusal);  // another model
}

TEST(RequestGuardTest, ConcurrencyCapReleasesWithTheSlot) {
  RequestGuard guard({.concurrency = 1});
  auto first = guard.Admit("token:a", {}, "");
  ASSERT_FALSE(first.refusal);
  const auto second = guard.Admit("token:a", {}, "");
  ASSERT_TRUE(second.refusal);
  EXPECT_EQ(second.refusal->reason, GuardReason::kConcurrency);
  EXPECT_EQ(Header(*second.refusal, "Retry-After"), "1");
  first.slot.reset();
  EXPECT_FALSE(guard.Admit("token:a", {}, "").refusal);
}

TEST(RequestGuardTest, FailedAuthenticationsAreCountedPerSource) {
  RequestGuard guard({.auth_failures = {.per_second = 0.01, .burst = 3}});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(guard.CheckSource("10.0.0.1"));
    guard.AuthenticationFailed("10.0.0.1");
  }
  const auto refused = guard.CheckSource("10.0.0.1");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, GuardReason::kAuthFailures);
  EXPECT_FALSE(guard.CheckSource("10.0.0.2"));
  // Checking is free: a source that never failed is never refused.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(guard.CheckSource("10.0.0.3"));
}

TEST(RequestGuardTest, IPv6SourcesCountPerPrefixAndMappedIPv4AsIPv4) {
  RequestGuard guard({.ipv6_source_prefix = 64});
  EXPECT_EQ(guard.SourceKey("10.1.2.3"), "source:10.1.2.3");
  EXPECT_EQ(guard.SourceKey("2001:db8:1:2:aaaa::1"), "source:2001:db8:1:2::/64");
  EXPECT_EQ(guard.SourceKey("2001:db8:1:2:bbbb::9"), guard.SourceKey("2001:db8:1:2:aaaa::1"));
  EXPECT_NE(guard.SourceKey("2001:db8:1:3::1"), guard.SourceKey("2001:db8:1:2::1"));
  EXPECT_EQ(guard.SourceKey("::ffff:192.0.2.7"), "source:192.0.2.7");
  EXPECT_EQ(guard.SourceKey("not an address"), "source:not an address");
  // One /64 shares one budget of failures.
  RequestGuard limited({.auth_failures = {.per_second = 0.01, .burst = 1}, .ipv6_source_prefix = 64});
  limited.AuthenticationFailed("2001:db8::1");
  EXPECT_TRUE(limited.CheckSource("2001:db8::ffff"));
  EXPECT_FALSE(limited.CheckSource("2001:db8:0:1::1"));
}

}  // namespace
}  // namespace aegis::guard
