#include "sink_queue.h"

#include <thread>

#include <gtest/gtest.h>

namespace aegis::audit::internal {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

TEST(SinkQueueTest, KeepsAtMostMaxItemsAndCountsTheRestAsDropped) {
  SinkQueue q(3, 1 << 20);
  for (int i = 0; i < 5; ++i) q.Push(false, "e" + std::to_string(i));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.dropped(), 2u);
  std::vector<SinkItem> out;
  EXPECT_EQ(q.Pop(out, 10, 1, Steady::now()), 3u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].json, "e0");  // the oldest are kept, the newest dropped
  EXPECT_EQ(out[2].json, "e2");
  EXPECT_TRUE(q.Push(false, "again"));  // room again after the consumer took them
}

TEST(SinkQueueTest, BoundsBytesToo) {
  SinkQueue q(100, 10);
  EXPECT_TRUE(q.Push(false, "12345"));
  EXPECT_TRUE(q.Push(true, "12345"));
  EXPECT_FALSE(q.Push(false, "1"));
  EXPECT_EQ(q.dropped(), 1u);
}

TEST(SinkQueueTest, ClosedQueueRefusesAndDropAllCounts) {
  SinkQueue q(10, 1 << 20);
  q.Push(false, "a");
  q.Push(false, "b");
  q.Close();
  EXPECT_FALSE(q.Push(false, "c"));
  EXPECT_EQ(q.DropAll(), 2u);
  EXPECT_EQ(q.dropped(), 3u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(SinkQueueTest, PopWaitsForMinItemsUntilTheDeadline) {
  SinkQueue q(10, 1 << 20);
  q.Push(false, "a");
  std::vector<SinkItem> out;
  const auto start = Steady::now();
  EXPECT_EQ(q.Pop(out, 5, 3, start + 100ms), 1u);  // only one came: returned at the deadline
  EXPECT_GE(Steady::now() - start, 100ms);

  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    q.Push(false, "b");
    q.Push(false, "c");
  });
  out.clear();
  EXPECT_EQ(q.Pop(out, 5, 2, Steady::now() + 10s), 2u);  // woken by the second push
  producer.join();
}

TEST(SinkQueueTest, CloseWakesAWaitingConsumer) {
  SinkQueue q(10, 1 << 20);
  std::thread closer([&] {
    std::this_thread::sleep_for(20ms);
    q.Close();
  });
  const auto start = Steady::now();
  EXPECT_TRUE(q.WaitClosed(start + 10s));
  EXPECT_LT(Steady::now() - start, 5s);
  closer.join();
}

TEST(SinkQueueTest, CloseSetsTheDrainDeadline) {
  SinkQueue q(10, 1 << 20);
  EXPECT_EQ(q.drain_deadline(), SteadyTime::max());  // open: deliver for as long as it takes
  const auto deadline = Steady::now() + 2s;
  q.Close(deadline);
  EXPECT_TRUE(q.closed());
  EXPECT_EQ(q.drain_deadline(), deadline);
}

TEST(DropReporterTest, ReportsAtOnceThenAtMostEveryIntervalAndTheRestAtTheEnd) {
  std::vector<uint64_t> reports;
  DropReporter r([&](uint64_t n) { reports.push_back(n); }, 10s);
  const auto t0 = Steady::now();
  r.Poll(0, t0);
  EXPECT_TRUE(reports.empty());  // no drops, no report
  r.Poll(3, t0);
  EXPECT_EQ(reports, std::vector<uint64_t>{3});
  r.Poll(5, t0 + 5s);
  r.Poll(9, t0 + 9s);
  EXPECT_EQ(reports.size(), 1u);  // within the interval: held back
  r.Poll(12, t0 + 10s);
  EXPECT_EQ(reports, (std::vector<uint64_t>{3, 9}));
  r.Poll(12, t0 + 30s);
  EXPECT_EQ(reports.size(), 2u);  // nothing new
  r.Poll(13, t0 + 31s);
  EXPECT_EQ(reports.size(), 3u);  // an interval passed since the last report: at once
  r.Final(20);
  EXPECT_EQ(reports.back(), 7u);
  r.Final(20);
  EXPECT_EQ(reports.size(), 4u);
}

TEST(BackoffTest, DoublesFromHalfASecondToThirtySecondsWithJitterInTheUpperHalf) {
  double u = 0.0;
  Backoff b(500ms, 30s, [&] { return u; });
  const std::vector<int64_t> bases = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (const int64_t base : bases) {
    EXPECT_EQ(b.Next().count(), base / 2) << "lowest jitter for base " << base;
  }
  b.Reset();
  u = 0.999999;
  for (const int64_t base : bases) {
    const auto d = b.Next().count();
    EXPECT_LE(d, base);
    EXPECT_GE(d, base - 1);
  }
  b.Reset();
  u = 0.5;
  EXPECT_EQ(b.Next().count(), 375);
}

TEST(BackoffTest, DefaultJitterStaysInRange) {
  Backoff b(500ms, 30s);
  for (int i = 0; i < 200; ++i) {
    const auto d = b.Next();
    EXPECT_GE(d, 250ms);
    EXPECT_LE(d, 30s);
  }
}

}  // namespace
}  // namespace aegis::audit::internal
