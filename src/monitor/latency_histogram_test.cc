#include "latency_histogram.h"

#include <gtest/gtest.h>

namespace aegis::monitor::internal {
namespace {

using std::chrono::nanoseconds;

TEST(LatencyHistogramTest, BucketsAreUpperBoundsInclusive) {
  LatencyHistogram h;
  h.Observe(nanoseconds(0));
  h.Observe(nanoseconds(1'000));        // exactly the first bound: first bucket
  h.Observe(nanoseconds(1'001));        // second bucket
  h.Observe(nanoseconds(-5));           // a clock oddity counts as 0
  h.Observe(std::chrono::seconds(60));  // beyond every bound: +Inf
  const HistogramCounts c = h.Read();
  EXPECT_EQ(c.buckets[0], 3u);
  EXPECT_EQ(c.buckets[1], 1u);
  EXPECT_EQ(c.buckets.back(), 1u);
  EXPECT_EQ(c.Count(), 5u);
  EXPECT_EQ(c.sum_ns, 1'000u + 1'001u + 60'000'000'000u);
}

TEST(LatencyHistogramTest, QuantilesInterpolateInsideTheBucket) {
  HistogramCounts empty;
  EXPECT_EQ(empty.QuantileNs(0.5), 0.0);

  LatencyHistogram h;
  // 100 observations in (10 µs, 25 µs]: the median is half-way through that bucket.
  for (int i = 0; i < 100; ++i) h.Observe(nanoseconds(20'000));
  EXPECT_DOUBLE_EQ(h.Read().QuantileNs(0.5), 17'500.0);
  EXPECT_DOUBLE_EQ(h.Read().QuantileNs(0.95), 10'000.0 + 15'000.0 * 0.95);
  // A slow tail moves p95, not p50.
  for (int i = 0; i < 10; ++i) h.Observe(std::chrono::milliseconds(3));
  const HistogramCounts c = h.Read();
  EXPECT_LT(c.QuantileNs(0.5), 25'000.0);
  EXPECT_GT(c.QuantileNs(0.95), 2'500'000.0);
  EXPECT_LE(c.QuantileNs(0.95), 5'000'000.0);
}

TEST(LatencyHistogramTest, ATailBeyondTheLastBoundReportsTheLastBound) {
  LatencyHistogram h;
  h.Observe(std::chrono::seconds(100));
  EXPECT_DOUBLE_EQ(h.Read().QuantileNs(0.5), 10e9);
}

TEST(LatencyHistogramTest, MinusGivesTheCountsOfAWindow) {
  LatencyHistogram h;
  h.Observe(nanoseconds(500));
  const HistogramCounts before = h.Read();
  h.Observe(std::chrono::milliseconds(1));
  const HistogramCounts window = h.Read().Minus(before);
  EXPECT_EQ(window.Count(), 1u);
  EXPECT_EQ(window.buckets[0], 0u);
  EXPECT_EQ(window.sum_ns, 1'000'000u);
}

}  // namespace
}  // namespace aegis::monitor::internal
