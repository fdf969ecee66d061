#include "aegis/guard/rate_limiter.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "aegis/guard/concurrency_cap.h"

namespace aegis::guard {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const RateLimiter::SteadyTime kStart{seconds(1000)};
// 2026-12-05T12:00:00Z
const RateLimiter::WallTime kNoon{seconds(1'796'472'000)};

TEST(ParseRateTest, AcceptsUnitsAndOff) {
  EXPECT_DOUBLE_EQ(ParseRate("10/s")->per_second, 10.0);
  EXPECT_EQ(ParseRate("10/s")->burst, 10u);
  EXPECT_DOUBLE_EQ(ParseRate("120/m")->per_second, 2.0);
  EXPECT_EQ(ParseRate("120/m")->burst, 120u);
  EXPECT_DOUBLE_EQ(ParseRate("36/h")->per_second, 0.01);
  EXPECT_FALSE(ParseRate("off")->Limited());
  EXPECT_EQ(FormatRate(ParseRate("120/m")->per_second), "2/s");
  EXPECT_EQ(FormatRate(ParseRate("30/m")->per_second), "30/m");
  EXPECT_EQ(FormatRate(ParseRate("7/h")->per_second), "7/h");
  EXPECT_EQ(FormatRate(0), "off");
}

TEST(ParseRateTest, RefusesEverythingElse) {
  for (const char* bad : {"", "10", "/s", "0/s", "-1/s", "1.5/s", "10/d", "10/ss", "10 /s", "1000000001/s", "10/S",
                          "99999999999999999999/s", "on"}) {
    const auto rate = ParseRate(bad);
    EXPECT_FALSE(rate.ok()) << bad;
    if (!rate.ok()) {
      EXPECT_NE(rate.status().message().find(bad), std::string::npos) << rate.status().message();
    }
  }
}

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  RateLimiter limiter({});
  const RateLimit limit{.per_second = 2, .burst = 3};
  for (int i = 0; i < 3; ++i) {
    const LimitDecision d = limiter.Take("a", limit, kStart, kNoon);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, static_cast<uint64_t>(2 - i));
  }
  LimitDecision refused = limiter.Take("a", limit, kStart, kNoon);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_by, LimitKind::kRate);
  EXPECT_EQ(refused.retry_after_seconds, 1u);  // half a second, rounded up to a whole one
  // Another key has its own bucket.
  EXPECT_TRUE(limiter.Take("b", limit, kStart, kNoon).allowed);
  // Half a second later one request's worth is back, and no more.
  EXPECT_TRUE(limiter.Take("a", limit, kStart + milliseconds(500), kNoon).allowed);
  EXPECT_FALSE(limiter.Take("a", limit, kStart + milliseconds(500), kNoon).allowed);
  // Long idle: never more than the burst.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("a", limit, kStart + seconds(60), kNoon).allowed);
  EXPECT_FALSE(limiter.Take("a", limit, kStart + seconds(60), kNoon).allowed);
}

TEST(RateLimiterTest, RetryAfterCoversASlowRate) {
  RateLimiter limiter({});
  const RateLimit limit{.per_second = 1.0 / 60, .burst = 1};
  EXPECT_TRUE(limiter.Take("a", limit, kStart, kNoon).allowed);
  const LimitDecision d = limiter.Take("a", limit, kStart + seconds(15), kNoon);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 45u);
  EXPECT_TRUE(limiter.Take("a", limit, kStart + seconds(60), kNoon).allowed);
}

TEST(RateLimiterTest, PeekTakesNothing) {
  RateLimiter limiter({});
  const RateLimit limit{.per_second = 1, .burst = 1};
  EXPECT_TRUE(limiter.Peek("a", limit, kStart, kNoon).allowed);
  EXPECT_EQ(limiter.Tracked(), 0u);
  EXPECT_TRUE(limiter.Take("a", limit, kStart, kNoon).allowed);
  EXPECT_FALSE(limiter.Peek("a", limit, kStart, kNoon).allowed);
  EXPECT_FALSE(limiter.Peek("a", limit, kStart, kNoon).allowed);
  EXPECT_TRUE(limiter.Peek("a", limit, kStart + seconds(1), kNoon).allowed);
}

TEST(RateLimiterTest, DailyQuotaEndsAtUtcMidnight) {
  RateLimiter limiter({});
  const RateLimit limit{.quota_per_day = 2};
  EXPECT_TRUE(limiter.Take("a", limit, kStart, kNoon).allowed);
  const LimitDecision last = limiter.Take("a", limit, kStart, kNoon);
  EXPECT_TRUE(last.allowed);
  EXPECT_EQ(last.remaining, 0u);
  const LimitDecision refused = limiter.Take("a", limit, kStart, kNoon);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_by, LimitKind::kQuota);
  EXPECT_EQ(refused.retry_after_seconds, 12u * 3600);
  // A second before midnight still refused; at midnight a new day begins.
  EXPECT_FALSE(limiter.Take("a", limit, kStart, kNoon + seconds(12 * 3600 - 1)).allowed);
  EXPECT_TRUE(limiter.Take("a", limit, kStart, kNoon + seconds(12 * 3600)).allowed);
}

TEST(RateLimiterTest, QuotaAndRateTogetherReportWhatBindsFirst) {
  RateLimiter limiter({});
  const RateLimit limit{.per_second = 100, .burst = 100, .quota_per_day = 5};
  const LimitDecision d = limiter.Take("a", limit, kStart, kNoon);
  EXPECT_EQ(d.remaining, 4u);
  EXPECT_EQ(d.reset_seconds, 12u * 3600);
}

TEST(RateLimiterTest, UnlimitedTracksNothing) {
  RateLimiter limiter({});
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Take("a", RateLimit{}, kStart, kNoon).allowed);
  EXPECT_EQ(limiter.Tracked(), 0u);
}

TEST(RateLimiterTest, KeysAreBoundedAndIdleOnesGoFirst) {
  RateLimiter limiter({.max_tracked = 160});
  const RateLimit limit{.per_second = 1, .burst = 5};
  // Many keys that each made one request (a flood of new principals): bounded.
  for (int i = 0; i < 5000; ++i) limiter.Take("old-" + std::to_string(i), limit, kStart, kNoon);
  EXPECT_LE(limiter.Tracked(), 160u);
  // Ten seconds on they are all idle (full buckets). A busy key empties its
  // bucket, then new keys arrive: the idle ones make room, the busy one stays.
  const auto later = kStart + seconds(10);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.Take("busy", limit, later, kNoon).allowed);
  for (int i = 0; i < 100; ++i) limiter.Take("new-" + std::to_string(i), limit, later, kNoon);
  EXPECT_LE(limiter.Tracked(), 160u);
  EXPECT_FALSE(limiter.Peek("busy", limit, later, kNoon).allowed) << "the busy key's empty bucket was forgotten";
}

TEST(RateLimiterTest, ConcurrentTakersNeverExceedTheBurst) {
  RateLimiter limiter({});
  const RateLimit limit{.per_second = 0.001, .burst = 1000};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.Take("shared", limit, kStart, kNoon).allowed) allowed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(ConcurrencyCapTest, SlotsAreHeldUntilDestroyed) {
  ConcurrencyCap cap;
  ConcurrencyCap::Slot a = cap.TryEnter("p", 2);
  ConcurrencyCap::Slot b = cap.TryEnter("p", 2);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(cap.TryEnter("p", 2));
  EXPECT_TRUE(cap.TryEnter("q", 2));  // another key: its own count
  EXPECT_EQ(cap.InFlight("p"), 2u);
  a.reset();
  ConcurrencyCap::Slot c = cap.TryEnter("p", 2);
  EXPECT_TRUE(c);
  b.reset();
  c.reset();
  EXPECT_EQ(cap.Tracked(), 0u);
  // No cap: always a slot, nothing tracked.
  ConcurrencyCap::Slot free = cap.TryEnter("p", 0);
  EXPECT_TRUE(free);
  EXPECT_EQ(cap.Tracked(), 0u);
}

}  // namespace
}  // namespace aegis::guard
