// LatencyHistogram: a fixed-bucket histogram of durations built from relaxed
// atomics (internal to src/monitor). Observe() is a bucket search over 22
// bounds and two fetch_adds: no lock, no allocation, so the request path can
// call it several times per request. prometheus::Histogram would take a mutex
// per observation.
//
// Buckets are the same for every histogram (1 µs … 10 s, roughly 1-2.5-5 per
// decade): they cover a policy check (~1 µs) as well as a TLS handshake or a
// large model's inference.
//
// Thread-safety: Observe and Read are safe for concurrent use. A Read taken
// while observations land may see a bucket incremented and its sum not yet
// (or the reverse); each bucket count is exact and never goes backwards.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace aegis::monitor::internal {

// Upper bounds of the finite buckets, in nanoseconds; one more bucket (+Inf) follows.
inline constexpr std::array<int64_t, 22> kBucketBoundsNs = {
    1'000,       2'500,       5'000,         10'000,        25'000,        50'000,        100'000,    250'000,
    500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,    25'000'000,    50'000'000, 100'000'000,
    250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
inline constexpr size_t kBuckets = kBucketBoundsNs.size() + 1;

// Counts per bucket (not cumulative) and the sum, as read at one moment.
struct HistogramCounts {
  std::array<uint64_t, kBuckets> buckets{};
  uint64_t sum_ns = 0;

  uint64_t Count() const;
  // The q-quantile (0 < q < 1) in nanoseconds, interpolated linearly inside
  // the bucket that holds it (as Prometheus's histogram_quantile does); the
  // highest finite bound if it falls in +Inf; 0 when empty.
  double QuantileNs(double q) const;
  // Per-bucket difference `*this - earlier` (for a window of time).
  HistogramCounts Minus(const HistogramCounts& earlier) const;
};

class LatencyHistogram {
 public:
  void Observe(std::chrono::nanoseconds duration) {
    const int64_t ns = duration.count() < 0 ? 0 : duration.count();
    size_t i = 0;
    while (i < kBucketBoundsNs.size() && ns > kBucketBoundsNs[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  }

  HistogramCounts Read() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// A histogram of small counts (batch sizes): buckets 1, 2, 4 ... 128 and +Inf.
inline constexpr std::array<int64_t, 8> kCountBounds = {1, 2, 4, 8, 16, 32, 64, 128};

struct CountHistogramCounts {
  std::array<uint64_t, kCountBounds.size() + 1> buckets{};
  uint64_t sum = 0;
};

class CountHistogram {
 public:
  void Observe(int64_t n) {
    size_t i = 0;
    while (i < kCountBounds.size() && n > kCountBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(static_cast<uint64_t>(n < 0 ? 0 : n), std::memory_order_relaxed);
  }
  CountHistogramCounts Read() const {
    CountHistogramCounts out;
    for (size_t i = 0; i < buckets_.size(); ++i) out.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    out.sum = sum_.load(std::memory_order_relaxed);
    return out;
  }

 private:
  std::array<std::atomic<uint64_t>, kCountBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_{0};
};

}  // namespace aegis::monitor::internal
