#include "latency_histogram.h"

namespace aegis::monitor::internal {

uint64_t HistogramCounts::Count() const {
  uint64_t n = 0;
  for (uint64_t b : buckets) n += b;
  return n;
}

double HistogramCounts::QuantileNs(double q) const {
  const uint64_t total = Count();
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    const uint64_t in_bucket = buckets[i];
    if (in_bucket == 0 || static_cast<double>(below + in_bucket) < rank) {
      below += in_bucket;
      continue;
    }
    if (i == kBucketBoundsNs.size()) return static_cast<double>(kBucketBoundsNs.back());
    const double lower = i == 0 ? 0.0 : static_cast<double>(kBucketBoundsNs[i - 1]);
    const double upper = static_cast<double>(kBucketBoundsNs[i]);
    const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
    return lower + (upper - lower) * fraction;
  }
  return static_cast<double>(kBucketBoundsNs.back());
}

HistogramCounts HistogramCounts::Minus(const HistogramCounts& earlier) const {
  HistogramCounts out;
  for (size_t i = 0; i < kBuckets; ++i) {
    out.buckets[i] = buckets[i] >= earlier.buckets[i] ? buckets[i] - earlier.buckets[i] : 0;
  }
  out.sum_ns = sum_ns >= earlier.sum_ns ? sum_ns - earlier.sum_ns : 0;
  return out;
}

HistogramCounts LatencyHistogram::Read() const {
  HistogramCounts out;
  for (size_t i = 0; i < kBuckets; ++i) out.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  out.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return out;
}

}  // namespace aegis::monitor::internal
