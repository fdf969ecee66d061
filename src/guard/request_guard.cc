#include "aegis/guard/request_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

namespace aegis::guard {
namespace {

// The seconds in which a bucket refills from empty: the window of its policy.
uint64_t Window(const RateLimit& limit) {
  const double seconds = static_cast<double>(std::max<uint64_t>(1, limit.burst)) / limit.per_second;
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(seconds)));
}

// The RateLimit-Policy and RateLimit items of `limit` under `name`; `decision`
// tells which part binds.
void AddHeaders(std::string_view name, const RateLimit& limit, const LimitDecision& decision, GuardRefusal& refusal) {
  std::string policy;
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (limit.per_second > 0) {
    policy =
        quoted + ";q=" + std::to_string(std::max<uint64_t>(1, limit.burst)) + ";w=" + std::to_string(Window(limit));
  }
  if (limit.quota_per_day > 0) {
    if (!policy.empty()) policy += ", ";
    policy += "\"" + std::string(name) + "-daily\";q=" + std::to_string(limit.quota_per_day) + ";w=86400";
  }
  const std::string bound = decision.refused_by == LimitKind::kQuota ? "\"" + std::string(name) + "-daily\"" : quoted;
  refusal.headers.emplace_back("Retry-After", std::to_string(refusal.retry_after_seconds));
  refusal.headers.emplace_back("RateLimit-Policy", policy);
  refusal.headers.emplace_back("RateLimit", bound + ";r=0;t=" + std::to_string(decision.reset_seconds));
}

GuardRefusal Refuse(GuardReason reason, std::string message, std::string_view name, const RateLimit& limit,
                    const LimitDecision& decision) {
  GuardRefusal refusal{reason, std::move(message), std::max<uint64_t>(1, decision.retry_after_seconds), {}};
  AddHeaders(name, limit, decision, refusal);
  return refusal;
}

}  // namespace

std::string_view GuardReasonName(GuardReason reason) {
  switch (reason) {
    case GuardReason::kRate:
      return "rate";
    case GuardReason::kQuota:
      return "quota";
    case GuardReason::kModelRate:
      return "model_rate";
    case GuardReason::kConcurrency:
      return "concurrency";
    case GuardReason::kAuthFailures:
      return "auth_failures";
    case GuardReason::kThrottle:
      return "throttle";
  }
  return "rate";
}

RequestGuard::RequestGuard(GuardOptions options)
    : options_(std::move(options)), limiter_({.max_tracked = options_.max_tracked}) {}

std::string RequestGuard::SourceKey(std::string_view source) const {
  const std::string text(source);
  std::array<uint8_t, 16> bytes{};
  if (text.find(':') == std::string::npos || ::inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) {
    return "source:" + text;
  }
  // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
  constexpr std::array<uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), bytes.begin())) {
    std::array<char, INET_ADDRSTRLEN> v4{};
    ::inet_ntop(AF_INET, bytes.data() + 12, v4.data(), v4.size());
    return "source:" + std::string(v4.data());
  }
  const int prefix = std::clamp(options_.ipv6_source_prefix, 1, 128);
  for (int bit = prefix; bit < 128; ++bit) bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  std::array<char, INET6_ADDRSTRLEN> v6{};
  ::inet_ntop(AF_INET6, bytes.data(), v6.data(), v6.size());
  return "source:" + std::string(v6.data()) + "/" + std::to_string(prefix);
}

std::optional<GuardRefusal> RequestGuard::CheckSource(std::string_view source) {
  if (!options_.auth_failures.Limited()) return std::nullopt;
  const std::string key = SourceKey(source);
  const LimitDecision d =
      limiter_.Peek(key, options_.auth_failures, std::chrono::steady_clock::now(), std::chrono::system_clock::now());
  if (d.allowed) return std::nullopt;
  return Refuse(GuardReason::kAuthFailures, "too many failed authentications from this address; retry later",
                "auth-failures", options_.auth_failures, d);
}

void RequestGuard::AuthenticationFailed(std::string_view source) {
  if (!options_.auth_failures.Limited()) return;
  limiter_.Take(SourceKey(source), options_.auth_failures, std::chrono::steady_clock::now(),
                std::chrono::system_clock::now());
}

RequestGuard::Admission RequestGuard::Admit(std::string_view principal, const RateLimit& own, std::string_view model) {
  Admission admission;
  const auto now = std::chrono::steady_clock::now();
  const auto wall = std::chrono::system_clock::now();
  RateLimit limit = options_.principal;
  if (own.per_second > 0) {
    limit.per_second = own.per_second;
    limit.burst = own.burst > 0 ? own.burst : DefaultBurst(own.per_second);
  }
  if (own.quota_per_day > 0) limit.quota_per_day = own.quota_per_day;
  const std::string key = "principal:" + std::string(principal);
  if (const LimitDecision d = limiter_.Take(key, limit, now, wall); !d.allowed) {
    const bool quota = d.refused_by == LimitKind::kQuota;
    admission.refusal = Refuse(quota ? GuardReason::kQuota : GuardReason::kRate,
                               quota ? "daily request quota exhausted for this identity"
                                     : "rate limit exceeded for this identity; retry later",
                               "principal", limit, d);
    return admission;
  }
  if (throttled_count_.load(std::memory_order_relaxed) > 0) {
    if (const std::optional<RateLimit> throttle = ThrottleFor(principal)) {
      if (const LimitDecision d = limiter_.Take("throttle:" + std::string(principal), *throttle, now, wall);
          !d.allowed) {
        admission.refusal =
            Refuse(GuardReason::kThrottle, "rate lowered for this identity by incident response; retry later",
                   "principal-throttled", *throttle, d);
        return admission;
      }
    }
  }
  if (!model.empty()) {
    if (const auto it = options_.models.find(model); it != options_.models.end() && it->second.Limited()) {
      const std::string model_key = "model:" + std::string(model) + "\n" + std::string(principal);
      if (const LimitDecision d = limiter_.Take(model_key, it->second, now, wall); !d.allowed) {
        admission.refusal =
            Refuse(GuardReason::kModelRate, "rate limit exceeded for this identity on model " + std::string(model),
                   "model", it->second, d);
        return admission;
      }
    }
  }
  admission.slot = in_flight_.TryEnter(key, options_.concurrency);
  if (!admission.slot) {
    GuardRefusal refusal{GuardReason::kConcurrency, "too many requests in flight for this identity", 1, {}};
    refusal.headers.emplace_back("Retry-After", "1");
    refusal.headers.emplace_back("RateLimit-Policy", "\"concurrency\";q=" + std::to_string(options_.concurrency));
    refusal.headers.emplace_back("RateLimit", "\"concurrency\";r=0;t=1");
    admission.refusal = std::move(refusal);
  }
  return admission;
}

RateLimit RequestGuard::Throttling::Binding() const {
  RateLimit lowest = holders.begin()->second;
  for (const auto& [holder, limit] : holders) {
    if (limit.per_second < lowest.per_second) lowest = limit;
  }
  return lowest;
}

void RequestGuard::Throttle(std::string_view principal, const RateLimit& limit, const std::string& holder) {
  std::lock_guard lock(throttle_mu_);
  auto it = throttled_.find(principal);
  if (it == throttled_.end()) it = throttled_.emplace(std::string(principal), Throttling{}).first;
  it->second.holders[holder] = limit;
  throttled_count_.store(throttled_.size(), std::memory_order_relaxed);
}

void RequestGuard::Unthrottle(std::string_view principal, const std::string& holder) {
  std::lock_guard lock(throttle_mu_);
  const auto it = throttled_.find(principal);
  if (it == throttled_.end()) return;
  it->second.holders.erase(holder);
  if (it->second.holders.empty()) throttled_.erase(it);
  throttled_count_.store(throttled_.size(), std::memory_order_relaxed);
}

size_t RequestGuard::Throttled() const {
  std::lock_guard lock(throttle_mu_);
  return throttled_.size();
}

std::optional<RateLimit> RequestGuard::ThrottleFor(std::string_view principal) const {
  std::lock_guard lock(throttle_mu_);
  const auto it = throttled_.find(principal);
  if (it == throttled_.end()) return std::nullopt;
  return it->second.Binding();
}

}  // namespace aegis::guard
