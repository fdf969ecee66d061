#include "aegis/guard/rate_limiter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"

namespace aegis::guard {
namespace {

constexpr uint64_t kMaxCount = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

struct Unit {
  char suffix;
  double seconds;
};
constexpr Unit kUnits[] = {{'h', 3600}, {'m', 60}, {'s', 1}};

uint64_t CeilSeconds(double seconds) {
  if (!(seconds > 1)) return 1;
  return static_cast<uint64_t>(std::ceil(seconds));
}

int64_t UtcDay(RateLimiter::WallTime wall) {
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
  return seconds >= 0 ? seconds / kSecondsPerDay : (seconds - kSecondsPerDay + 1) / kSecondsPerDay;
}

uint64_t SecondsToNextUtcDay(RateLimiter::WallTime wall) {
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
  return static_cast<uint64_t>((UtcDay(wall) + 1) * kSecondsPerDay - seconds);
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

StatusOr<RateLimit> ParseRate(std::string_view text) {
  if (text == "off") return RateLimit{};
  const size_t slash = text.find('/');
  const auto invalid = [&] {
    return Status::InvalidArgument("rate \"" + std::string(text) + "\" is not N/s, N/m, N/h or off");
  };
  if (slash == std::string_view::npos || slash + 2 != text.size()) return invalid();
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + slash, n);
  if (slash == 0 || ec != std::errc() || end != text.data() + slash || n == 0 || n > kMaxCount) return invalid();
  for (const Unit& unit : kUnits) {
    if (text[slash + 1] == unit.suffix)
      return RateLimit{.per_second = static_cast<double>(n) / unit.seconds, .burst = n};
  }
  return invalid();
}

std::string FormatRate(double per_second) {
  if (!(per_second > 0)) return "off";
  for (const Unit& unit : {kUnits[2], kUnits[1], kUnits[0]}) {
    const double n = per_second * unit.seconds;
    if (std::abs(n - std::round(n)) < 1e-6 * std::max(1.0, n)) {
      return std::to_string(static_cast<uint64_t>(std::round(n))) + "/" + unit.suffix;
    }
  }
  return std::to_string(static_cast<uint64_t>(std::round(per_second * 3600))) + "/h";
}

uint64_t DefaultBurst(double per_second) { return per_second >= 1 ? static_cast<uint64_t>(std::ceil(per_second)) : 1; }

struct RateLimiter::Shard {
  struct Bucket {
    double tokens = 0;
    double per_second = 0;  // as of the last request, to tell an idle bucket
    uint64_t burst = 0;
    SteadyTime last{};
    int64_t quota_day = 0;
    uint64_t quota_used = 0;
  };
  Mutex mu;
  std::unordered_map<std::string, Bucket, StringHash, std::equal_to<>> buckets AEGIS_GUARDED_BY(mu);

  // Makes room for one more key: every idle key goes (a full bucket, no quota
  // used today); if that frees less than a sixteenth, the least recently used
  // go too. Amortised: a full shard is swept once per sixteenth of its size.
  void MakeRoom(size_t capacity, SteadyTime now, int64_t today) AEGIS_REQUIRES(mu) {
    std::erase_if(buckets, [&](const auto& entry) {
      const Bucket& b = entry.second;
      const double elapsed = std::chrono::duration<double>(now - b.last).count();
      const bool bucket_full = b.per_second <= 0 || b.tokens + elapsed * b.per_second >= static_cast<double>(b.burst);
      return bucket_full && (b.quota_used == 0 || b.quota_day != today);
    });
    const size_t want = std::max<size_t>(1, capacity / 16);
    if (buckets.size() + want <= capacity) return;
    std::vector<SteadyTime> times;
    times.reserve(buckets.size());
    for (const auto& [key, b] : buckets) times.push_back(b.last);
    const size_t drop = buckets.size() + want - capacity;
    std::nth_element(times.begin(), times.begin() + static_cast<ptrdiff_t>(drop - 1), times.end());
    const SteadyTime cutoff = times[drop - 1];
    size_t dropped = 0;
    std::erase_if(buckets,
                  [&](const auto& entry) { return dropped < drop && entry.second.last <= cutoff && ++dropped; });
  }
};

RateLimiter::RateLimiter(RateLimiterOptions options)
    : per_shard_(std::max<size_t>(1, (options.max_tracked + kShards - 1) / kShards)) {
  for (auto& shard : shards_) shard = std::make_unique<Shard>();
}

RateLimiter::~RateLimiter() = default;

RateLimiter::Shard& RateLimiter::ShardFor(std::string_view key) {
  return *shards_[std::hash<std::string_view>{}(key) % kShards];
}

LimitDecision RateLimiter::Take(std::string_view key, const RateLimit& limit, SteadyTime now, WallTime wall) {
  return Apply(key, limit, now, wall, true);
}

LimitDecision RateLimiter::Peek(std::string_view key, const RateLimit& limit, SteadyTime now, WallTime wall) {
  return Apply(key, limit, now, wall, false);
}

LimitDecision RateLimiter::Apply(std::string_view key, const RateLimit& limit, SteadyTime now, WallTime wall,
                                 bool take) {
  LimitDecision decision;
  if (!limit.Limited()) return decision;
  const bool rate_limited = limit.per_second > 0;
  const uint64_t burst = rate_limited ? std::max<uint64_t>(1, limit.burst) : 0;
  const int64_t today = UtcDay(wall);
  Shard& shard = ShardFor(key);
  MutexLock lock(shard.mu);
  auto it = shard.buckets.find(key);
  Shard::Bucket fresh{static_cast<double>(burst), limit.per_second, burst, now, today, 0};
  if (it == shard.buckets.end() && take) {
    if (shard.buckets.size() >= per_shard_) shard.MakeRoom(per_shard_, now, today);
    it = shard.buckets.emplace(std::string(key), fresh).first;
  }
  Shard::Bucket& b = it == shard.buckets.end() ? fresh : it->second;
  if (rate_limited) {
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.last).count());
    b.tokens = std::min(static_cast<double>(burst), b.tokens + elapsed * limit.per_second);
    if (now > b.last) b.last = now;
    b.per_second = limit.per_second;
    b.burst = burst;
  } else {
    if (now > b.last) b.last = now;
    b.per_second = 0;
  }
  if (b.quota_day != today) {
    b.quota_day = today;
    b.quota_used = 0;
  }
  if (limit.quota_per_day > 0 && b.quota_used >= limit.quota_per_day) {
    decision.allowed = false;
    decision.refused_by = LimitKind::kQuota;
    decision.retry_after_seconds = decision.reset_seconds = std::max<uint64_t>(1, SecondsToNextUtcDay(wall));
    return decision;
  }
  if (rate_limited && b.tokens < 1) {
    decision.allowed = false;
    decision.refused_by = LimitKind::kRate;
    decision.retry_after_seconds = decision.reset_seconds = CeilSeconds((1 - b.tokens) / limit.per_second);
    return decision;
  }
  if (take) {
    if (rate_limited) b.tokens -= 1;
    ++b.quota_used;
  }
  // What binds first: the bucket, or what is left of today's quota.
  decision.remaining = UINT64_MAX;
  if (rate_limited) {
    decision.remaining = static_cast<uint64_t>(std::floor(b.tokens));
    decision.reset_seconds = CeilSeconds((static_cast<double>(burst) - b.tokens) / limit.per_second);
  }
  if (limit.quota_per_day > 0 && limit.quota_per_day - b.quota_used < decision.remaining) {
    decision.remaining = limit.quota_per_day - b.quota_used;
    decision.reset_seconds = SecondsToNextUtcDay(wall);
  }
  return decision;
}

size_t RateLimiter::Tracked() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    MutexLock lock(shard->mu);
    n += shard->buckets.size();
  }
  return n;
}

}  // namespace aegis::guard
