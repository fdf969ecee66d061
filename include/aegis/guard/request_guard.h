// RequestGuard: the limits of the guard stage, in the order the request path
// asks for them.
//
//   1. Before any credential check: has this source address used up its
//      failed authentications ([guard] auth_failures)? Then 429 at once, so a
//      guesser costs the server no hashing or signature work.
//   2. After authentication: the principal's token bucket and daily quota
//      ([guard] rate, burst, quota; a credential's own limits replace them),
//      the model's own bucket for this principal ([models."NAME"] rate, burst),
//      and the principal's requests in flight ([guard] concurrency).
// A refusal carries what the 429 says: the reason, Retry-After, and the
// RateLimit-Policy and RateLimit header fields
// (draft-ietf-httpapi-ratelimit-headers-10).
//
// Thread-safety: all members are safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aegis/guard/concurrency_cap.h"
#include "aegis/guard/rate_limiter.h"

namespace aegis::guard {

struct GuardOptions {
  RateLimit principal;                                   // every principal unless its credential says otherwise
  uint32_t concurrency = 0;                              // requests in flight per principal; 0 = no cap
  RateLimit auth_failures;                               // failed authentications per source address
  std::map<std::string, RateLimit, std::less<>> models;  // per principal on that model
  int ipv6_source_prefix = 64;                           // IPv6 sources count per prefix (one host often owns a /64)
  size_t max_tracked = 100'000;                          // keys each limiter keeps
};

// Why a request was refused; the label of aegis_rate_limited_total.
// kThrottle: the principal's rate lowered by incident response.
enum class GuardReason : uint8_t { kRate, kQuota, kModelRate, kConcurrency, kAuthFailures, kThrottle };
inline constexpr size_t kGuardReasonCount = 6;
std::string_view GuardReasonName(GuardReason reason);  // "rate", "quota", ..., "throttle"

struct GuardRefusal {
  GuardReason reason = GuardReason::kRate;
  std::string message;  // for the JSON error and the audit event
  uint64_t retry_after_seconds = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // Retry-After, RateLimit-Policy, RateLimit
};

class RequestGuard {
 public:
  explicit RequestGuard(GuardOptions options);

  const GuardOptions& options() const { return options_; }

  // Step 1. `source` is the client's IP address as text; IPv6 addresses count
  // per options().ipv6_source_prefix (an IPv4-mapped address as IPv4).
  std::optional<GuardRefusal> CheckSource(std::string_view source);
  // A failed authentication from `source` (counted against step 1).
  void AuthenticationFailed(std::string_view source);
  // The key `source` is counted under: "source:<ipv4>" or "source:<ipv6 prefix>/<len>".
  std::string SourceKey(std::string_view source) const;

  // Step 2. The credential's `own` limit replaces options().principal field
  // by field: its rate (with its burst, or one second's worth) when set, its
  // quota when set.
  // Admitted: a slot to hold until the request ends. Refused: nothing taken
  // from the concurrency cap (tokens taken from buckets before the refusing
  // one stay taken: a refused flood still drains its own bucket).
  struct Admission {
    ConcurrencyCap::Slot slot;
    std::optional<GuardRefusal> refusal;
  };
  Admission Admit(std::string_view principal, const RateLimit& own, std::string_view model);

  size_t TrackedKeys() const { return limiter_.Tracked(); }

  // Incident response ("throttle"): while `holder` (an incident id) holds it,
  // `principal` also takes from a bucket of its own at `limit`, whatever its
  // credential allows; over it, 429 with reason kThrottle. Several holders may
  // hold one principal (the lowest limit binds); it is released once the last
  // lets go. In memory: the incidents re-apply what their unresolved records
  // say at start.
  void Throttle(std::string_view principal, const RateLimit& limit, const std::string& holder);
  void Unthrottle(std::string_view principal, const std::string& holder);
  size_t Throttled() const;

 private:
  struct Throttling {
    std::map<std::string, RateLimit, std::less<>> holders;  // incident id -> limit
    RateLimit Binding() const;                              // the lowest rate
  };
  std::optional<RateLimit> ThrottleFor(std::string_view principal) const;

  GuardOptions options_;
  RateLimiter limiter_;
  ConcurrencyCap in_flight_;
  mutable std::mutex throttle_mu_;
  std::map<std::string, Throttling, std::less<>> throttled_;  // by principal, under throttle_mu_
  std::atomic<size_t> throttled_count_{0};                    // throttled_.size(): Admit skips the lock at 0
};

}  // namespace aegis::guard
