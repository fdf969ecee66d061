#include "summarizer.h"

#include <gtest/gtest.h>

#include "aegis/audit/event_line.h"
#include "audit_test_util.h"

namespace aegis::audit::internal {
namespace {

using std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

const TimePoint kSecond = TimePoint(std::chrono::seconds(1796413646));

AuditEvent Infer(int latency_us, TimePoint at = kSecond + milliseconds(10)) {
  AuditEvent e = testing::Event(0);
  e.time = at;
  e.latency_us = latency_us;
  return e;
}

TEST(SummarizerTest, TakesOnlySuccessfulRequestsOfItsActionAndKeepsTheOthersInOrder) {
  Summarizer s("infer", milliseconds(1000));
  std::deque<AuditEvent> batch;
  batch.push_back(Infer(1));
  AuditEvent denied = Infer(2);
  denied.decision = Decision::kDeny;
  denied.status = 403;
  batch.push_back(denied);
  AuditEvent failed = Infer(3);
  failed.status = 500;
  failed.reason = "engine failed";
  batch.push_back(failed);
  AuditEvent client_error = Infer(4);
  client_error.status = 400;
  batch.push_back(client_error);
  AuditEvent flagged = Infer(5);
  flagged.reason = "screening flagged";
  batch.push_back(flagged);
  AuditEvent push = Infer(6);
  push.action = "model.push";
  batch.push_back(push);
  batch.push_back(Infer(7));

  EXPECT_EQ(s.Absorb(batch), 2u);
  ASSERT_EQ(batch.size(), 5u);
  EXPECT_EQ(batch[0].status, 403);
  EXPECT_EQ(batch[1].status, 500);
  EXPECT_EQ(batch[2].status, 400);
  EXPECT_EQ(batch[3].reason, "screening flagged");
  EXPECT_EQ(batch[4].action, "model.push");
}

TEST(SummarizerTest, OneSummaryPerPrincipalResourceSourceAndWindowWithQuantiles) {
  Summarizer s("infer", milliseconds(1000));
  std::deque<AuditEvent> batch;
  for (int i = 100; i >= 1; --i) batch.push_back(Infer(i));  // latencies 1..100 µs, out of order
  AuditEvent other_port = Infer(1000);
  other_port.remote = "127.0.0.1:9999";  // the same source host: the same summary
  batch.push_back(other_port);
  AuditEvent other_principal = Infer(7);
  other_principal.principal = "token:other";
  batch.push_back(other_principal);
  AuditEvent other_version = Infer(8);
  other_version.resource = "model:m/versions/2";
  batch.push_back(other_version);
  AuditEvent next_second = Infer(9, kSecond + milliseconds(1500));
  batch.push_back(next_second);
  AuditEvent created = Infer(10);
  created.status = 201;
  batch.push_back(created);
  ASSERT_EQ(s.Absorb(batch), 105u);
  EXPECT_TRUE(batch.empty());

  std::deque<AuditEvent> out;
  // Not before the window's end plus the grace.
  EXPECT_EQ(s.Drain(kSecond + milliseconds(1000), false, out), 0u);
  ASSERT_EQ(s.NextDue(), kSecond + milliseconds(1000) + Summarizer::kGrace);
  EXPECT_EQ(s.Drain(*s.NextDue(), false, out), 3u);
  ASSERT_EQ(out.size(), 3u);
  const AuditEvent* main = nullptr;
  for (const auto& e : out) {
    EXPECT_EQ(e.action, "infer.summary");
    EXPECT_EQ(e.time, kSecond);
    EXPECT_EQ(e.remote, "127.0.0.1");
    EXPECT_TRUE(e.request_id.empty());
    ASSERT_TRUE(e.summary);
    if (e.principal == "token:admin" && e.resource == "model:m/versions/1") main = &e;
  }
  ASSERT_NE(main, nullptr);
  const EventSummary& sum = *main->summary;
  EXPECT_EQ(sum.count, 102u);
  EXPECT_EQ(sum.window_ms, 1000);
  EXPECT_EQ(sum.statuses, (std::vector<std::pair<int, uint64_t>>{{200, 101}, {201, 1}}));
  // 1..100, 1000 and 10: nearest rank over 102 values.
  EXPECT_EQ(sum.p50_us, 50);
  EXPECT_EQ(sum.p90_us, 91);
  EXPECT_EQ(sum.p99_us, 100);
  EXPECT_EQ(sum.max_us, 1000);
  EXPECT_EQ(main->status, 200);  // the most frequent
  EXPECT_EQ(main->latency_us, 1000);
  EXPECT_EQ(main->decision, Decision::kAllow);

  // The next second's window is still open until `all`.
  ASSERT_TRUE(s.NextDue());
  EXPECT_EQ(s.Drain(kSecond + milliseconds(1300), false, out), 0u);
  EXPECT_EQ(s.Drain(kSecond, true, out), 1u);
  EXPECT_FALSE(s.NextDue());
  EXPECT_EQ(out.back().time, kSecond + milliseconds(1000));
}

TEST(SummarizerTest, TheSummaryIsTheLastMemberOfItsLine) {
  Summarizer s("infer", milliseconds(1000));
  std::deque<AuditEvent> batch{Infer(5), Infer(7)};
  s.Absorb(batch);
  s.Drain(kSecond, true, batch);
  ASSERT_EQ(batch.size(), 1u);
  std::string line;
  AppendEventLine(3, Hash{}, "", batch[0], line);
  EXPECT_TRUE(
      line.ends_with(",\"remote\":\"127.0.0.1\",\"listener\":\"data\",\"summary\":{\"window_ms\":1000,"
                     "\"count\":2,\"statuses\":{\"200\":2},\"latency_us\":{\"p50\":5,\"p90\":7,\"p99\":7,"
                     "\"max\":7}}}"))
      << line;
  EXPECT_NE(line.find("\"action\":\"infer.summary\""), std::string::npos);
}

TEST(SummarizerTest, RemoteHostDropsOnlyThePort) {
  EXPECT_EQ(RemoteHost("10.0.0.1:443"), "10.0.0.1");
  EXPECT_EQ(RemoteHost("[::1]:443"), "[::1]");
  EXPECT_EQ(RemoteHost("::1"), "::1");
  EXPECT_EQ(RemoteHost("unix"), "unix");
  EXPECT_EQ(RemoteHost(""), "");
}

}  // namespace
}  // namespace aegis::audit::internal
