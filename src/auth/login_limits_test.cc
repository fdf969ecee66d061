// The internal rules behind UserDirectory's abuse limits: lockout arithmetic,
// its stored form, and the bounded in-memory trackers.
#include <gtest/gtest.h>

#include "aegis/common/clock.h"
#include "lockout.h"
#include "login_throttle.h"

namespace aegis::auth::internal {
namespace {

using namespace std::chrono_literals;

const SystemTime kNow = std::chrono::sys_days(std::chrono::year(2026) / 3 / 4) + 5h + 6min + 7s + 8us;

TEST(LockoutTest, Rfc3339RoundTrip) {
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(kNow)), kNow);
  EXPECT_EQ(ParseRfc3339("2026-03-04T05:06:07Z"), kNow - 8us);
  for (const char* bad :
       {"", "2026-03-04", "2026-03-04T05:06:07", "2026-02-30T00:00:00Z", "2026-03-04 05:06:07Z", "2026-03-04T24:00:00Z",
        "2026-03-04T05:06:07.1Z", "2026-03-04T05:06:07+01:00", "+026-03-04T05:06:07Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(LockoutTest, LocksAtTheThresholdAndRestartsAfterExpiry) {
  const LockoutPolicy policy{3, 30min};
  LockoutState s;
  s = AfterFailure(s, kNow, policy);
  s = AfterFailure(s, kNow, policy);
  EXPECT_FALSE(IsLocked(s, kNow));
  s = AfterFailure(s, kNow, policy);
  EXPECT_EQ(s.failed_logins, 3);
  ASSERT_EQ(s.locked_until, kNow + 30min);
  EXPECT_TRUE(IsLocked(s, kNow + 29min));
  EXPECT_EQ(AfterFailure(s, kNow + 10min, policy), s) << "not extended while locked";
  EXPECT_FALSE(IsLocked(s, kNow + 30min));
  const LockoutState after = AfterFailure(s, kNow + 31min, policy);
  EXPECT_EQ(after.failed_logins, 1);
  EXPECT_FALSE(after.locked_until.has_value());
}

TEST(LockoutTest, StoredFormFailsClosed) {
  store::UserRecord user;
  user.failed_logins = 10;
  user.locked_until = FormatRfc3339(kNow);
  EXPECT_EQ(LockoutStateOf(user).locked_until, kNow);
  EXPECT_EQ(LockedUntilText(LockoutStateOf(user)), user.locked_until);
  user.locked_until = "not a time";
  EXPECT_TRUE(IsLocked(LockoutStateOf(user), kNow + 1000h));
  user.locked_until.reset();
  EXPECT_FALSE(IsLocked(LockoutStateOf(user), kNow));
  EXPECT_FALSE(LockedUntilText(LockoutStateOf(user)).has_value());
}

TEST(LockoutTest, UnknownNamesAreBounded) {
  UnknownNameLockouts names(LockoutPolicy{2, 30min}, 2);
  names.RecordFailure("a", kNow);
  EXPECT_FALSE(names.IsLocked("a", kNow));
  names.RecordFailure("a", kNow);
  EXPECT_TRUE(names.IsLocked("a", kNow));
  EXPECT_FALSE(names.IsLocked("a", kNow + 30min));
  names.RecordFailure("b", kNow);
  names.RecordFailure("c", kNow);  // forgets "a", the least recently failed
  EXPECT_FALSE(names.IsLocked("a", kNow));
  names.RecordFailure("c", kNow);
  EXPECT_TRUE(names.IsLocked("c", kNow));
}

TEST(LoginThrottleTest, SlidingWindowPerSource) {
  const LoginThrottle::Time t0{};
  LoginThrottle throttle({.limit = 3, .window = 60s, .name_interval = 10s});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(throttle.IsThrottled("a", t0 + i * 10s));
    throttle.RecordFailure("a", "x" + std::to_string(i), t0 + i * 10s);
  }
  EXPECT_TRUE(throttle.IsThrottled("a", t0 + 30s));
  EXPECT_FALSE(throttle.IsThrottled("b", t0 + 30s));
  EXPECT_TRUE(throttle.IsThrottled("a", t0 + 59s));
  EXPECT_FALSE(throttle.IsThrottled("a", t0 + 60s)) << "the first failure has left the window";
  throttle.RecordFailure("a", "x0", t0 + 60s);
  EXPECT_TRUE(throttle.IsThrottled("a", t0 + 61s));
  EXPECT_FALSE(throttle.IsThrottled("a", t0 + 200s));
}

TEST(LoginThrottleTest, AThrottledSourceSlowsEachNameButRefusesNoOther) {
  const LoginThrottle::Time t0{};
  LoginThrottle throttle({.limit = 3, .window = 600s, .name_interval = 60s});
  // Below the limit nothing is refused, not even a name that just failed.
  throttle.RecordFailure("a", "mallory", t0);
  EXPECT_FALSE(throttle.Refusal("a", "mallory", t0 + 1s));
  throttle.RecordFailure("a", "mallory", t0 + 1s);
  throttle.RecordFailure("a", "root", t0 + 2s);
  ASSERT_TRUE(throttle.IsThrottled("a", t0 + 3s));
  // Throttled: the names that failed wait out their interval ...
  EXPECT_EQ(throttle.Refusal("a", "mallory", t0 + 3s), 58s);
  EXPECT_EQ(throttle.Refusal("a", "root", t0 + 2s + 500ms), 60s) << "rounded up";
  EXPECT_FALSE(throttle.Refusal("a", "root", t0 + 62s));
  // ... while a name that has not failed from there goes ahead at once, and
  // the same name from another address is not slowed either.
  EXPECT_FALSE(throttle.Refusal("a", "alice", t0 + 3s));
  EXPECT_FALSE(throttle.Refusal("b", "mallory", t0 + 3s));
  // The throttle ends with the window.
  EXPECT_FALSE(throttle.IsThrottled("a", t0 + 600s));
}

TEST(LoginThrottleTest, SourcesAndNamesAreBounded) {
  const LoginThrottle::Time t0{};
  LoginThrottle throttle({.limit = 1, .window = 60s, .name_interval = 60s, .max_sources = 2, .max_recent = 2});
  throttle.RecordFailure("a", "n", t0);
  throttle.RecordFailure("b", "n", t0 + 1s);
  throttle.RecordFailure("c", "n", t0 + 2s);  // drops "a", whose last failure is oldest
  EXPECT_FALSE(throttle.IsThrottled("a", t0 + 3s));
  EXPECT_TRUE(throttle.IsThrottled("b", t0 + 3s));
  EXPECT_TRUE(throttle.IsThrottled("c", t0 + 3s));
  throttle.RecordFailure("d", "n", t0 + 120s);  // expired sources go first
  EXPECT_TRUE(throttle.IsThrottled("d", t0 + 121s));

  LoginThrottle names({.limit = 1, .window = 60s, .name_interval = 60s, .max_recent = 2});
  names.RecordFailure("s", "n1", t0);
  names.RecordFailure("s", "n2", t0 + 1s);
  names.RecordFailure("s", "n3", t0 + 2s);  // forgets n1, the oldest pair
  EXPECT_FALSE(names.Refusal("s", "n1", t0 + 3s).has_value());
  EXPECT_TRUE(names.Refusal("s", "n2", t0 + 3s).has_value());
  EXPECT_TRUE(names.Refusal("s", "n3", t0 + 3s).has_value());
}

}  // namespace
}  // namespace aegis::auth::internal
