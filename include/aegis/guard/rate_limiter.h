// RateLimiter: token buckets and daily quotas keyed by a string (a principal,
// a principal on one model, a source address), for the guard stage of the
// request path (OWASP API4, MITRE ATLAS AML.M0004 "restrict number of queries").
//
// A bucket holds at most `burst` requests and refills at `per_second`; a
// request takes one. A daily quota counts requests per UTC day. What a key has
// used is kept in memory (sharded maps, one mutex per shard); at most
// `max_tracked` keys are kept. A full bucket with no quota used today says
// nothing a fresh one would not, so those go first when a shard is full; only
// when none is idle does the least recently used key go (its next request
// starts from a full bucket: documented in docs/threat-detection.md).
//
// Example:
//   RateLimiter limiter({});
//   const RateLimit limit{.per_second = 10, .burst = 20};
//   LimitDecision d = limiter.Take("token:scorer", limit, steady_now, utc_now);
//   if (!d.allowed) { /* 429, Retry-After: d.retry_after_seconds */ }
//
// Thread-safety: all members are safe for concurrent use.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::guard {

// A limit. per_second 0 means no rate limit; quota_per_day 0 means no quota.
struct RateLimit {
  double per_second = 0;
  uint64_t burst = 0;  // bucket size; at least 1 when per_second > 0
  uint64_t quota_per_day = 0;

  bool Limited() const { return per_second > 0 || quota_per_day > 0; }
  bool operator==(const RateLimit&) const = default;
};

// "N/s", "N/m" or "N/h" (N a whole number, 1..10^9): N requests per unit,
// as a rate per second with a burst of N (what the unit allows at once);
// "off" as no rate. Anything else is InvalidArgument naming the text.
StatusOr<RateLimit> ParseRate(std::string_view text);
// The rate as it was written: "N/s", "N/m" or "N/h" (the largest unit that
// keeps N whole), "off" for 0.
std::string FormatRate(double per_second);
// The burst used when none is given: one second's worth at the rate, at least 1.
uint64_t DefaultBurst(double per_second);

enum class LimitKind : uint8_t { kNone, kRate, kQuota };

struct LimitDecision {
  bool allowed = true;
  LimitKind refused_by = LimitKind::kNone;
  uint64_t retry_after_seconds = 0;  // refused: whole seconds, at least 1
  // For the RateLimit header fields: what is left of the limit that binds
  // first and the seconds until it is whole again.
  uint64_t remaining = 0;
  uint64_t reset_seconds = 0;
};

struct RateLimiterOptions {
  size_t max_tracked = 100'000;
};

class RateLimiter {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  explicit RateLimiter(RateLimiterOptions options);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one request from `key` under `limit` (which may differ between
  // calls: a changed limit applies from now on, keeping what is left). `now`
  // drives the bucket, `wall` the UTC day of the quota. Refused: nothing is taken.
  LimitDecision Take(std::string_view key, const RateLimit& limit, SteadyTime now, WallTime wall);
  // Whether `key` could take a request now, without taking one.
  LimitDecision Peek(std::string_view key, const RateLimit& limit, SteadyTime now, WallTime wall);

  // Keys tracked now (for tests and the memory figure in the docs).
  size_t Tracked() const;

 private:
  struct Shard;
  static constexpr size_t kShards = 16;
  LimitDecision Apply(std::string_view key, const RateLimit& limit, SteadyTime now, WallTime wall, bool take);
  Shard& ShardFor(std::string_view key);

  size_t per_shard_;
  std::array<std::unique_ptr<Shard>, kShards> shards_;
};

}  // namespace aegis::guard
