// The audit log with [audit] inference_events = "summary": what is summarized,
// what keeps its own event, and that summaries are chained, signed and never
// lost at close.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/audit/audit_log.h"
#include "aegis/audit/log_verifier.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"

namespace aegis::audit {
namespace {

using testing::Event;

class AuditSummaryTest : public testing::AuditDir {
 protected:
  AuditLogOptions SummaryOptions() const {
    auto o = Options();
    o.summarized_action = "infer";
    return o;
  }

  std::vector<nlohmann::json> Lines(AuditLog& log) {
    auto lines = log.Recent(10000);
    EXPECT_OK(lines);
    std::vector<nlohmann::json> out;
    for (const auto& l : lines.value()) out.push_back(nlohmann::json::parse(l));
    return out;
  }

  void ExpectVerifies() {
    auto report = VerifyAuditLog(dir_);
    ASSERT_OK(report);
    EXPECT_TRUE(report->ok) << report->error;
  }
};

std::vector<nlohmann::json> WithAction(const std::vector<nlohmann::json>& events, const std::string& action) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events) {
    if (e["action"] == action) out.push_back(e);
  }
  return out;
}

TEST_F(AuditSummaryTest, SuccessfulInferencesBecomeOneSignedSummaryAndTheRestKeepTheirEvents) {
  auto log = OpenLog(SummaryOptions());
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 1000; ++i) {
    AuditEvent e = Event(i);
    e.time = now;  // one window
    log->Append(std::move(e));
  }
  AuditEvent denied = Event(1000);
  denied.decision = Decision::kDeny;
  denied.status = 403;
  denied.reason = "no grant";
  log->Append(denied);
  AuditEvent failed = Event(1001);
  failed.status = 500;
  failed.reason = "engine failed";
  log->Append(failed);
  AuditEvent push = Event(1002);
  push.action = "model.push";
  log->Append(push);

  // Flush makes the individual events durable; the window is still open.
  ASSERT_OK(log->Flush());
  auto events = Lines(*log);
  EXPECT_EQ(events.size(), 5u);  // start, key_created, 403, 500, push
  EXPECT_TRUE(WithAction(events, "infer.summary").empty());

  ASSERT_OK(log->FlushSummaries());
  ASSERT_OK(log->SignNow());
  events = Lines(*log);
  const auto individual = WithAction(events, "infer");
  ASSERT_EQ(individual.size(), 2u);
  EXPECT_EQ(individual[0]["request_id"], "req1000");
  EXPECT_EQ(individual[0]["status"], 403);
  EXPECT_EQ(individual[1]["request_id"], "req1001");
  EXPECT_EQ(WithAction(events, "model.push").size(), 1u);
  const auto summaries = WithAction(events, "infer.summary");
  ASSERT_EQ(summaries.size(), 1u);
  const auto& s = summaries[0];
  EXPECT_EQ(s["principal"], "token:admin");
  EXPECT_EQ(s["resource"], "model:m/versions/1");
  EXPECT_EQ(s["remote"], "127.0.0.1");
  EXPECT_EQ(s["request_id"], "");
  EXPECT_EQ(s["summary"]["count"], 1000);
  EXPECT_EQ(s["summary"]["statuses"]["200"], 1000);
  EXPECT_EQ(s["summary"]["latency_us"]["p50"], 499);  // Event(i) has latency i
  EXPECT_EQ(s["summary"]["latency_us"]["p99"], 989);
  EXPECT_EQ(s["summary"]["latency_us"]["max"], 999);
  EXPECT_EQ(log->Stats().events_summarized, 1000u);
  EXPECT_EQ(log->Stats().last_head->tree_size, events.size());
  ExpectVerifies();
}

TEST_F(AuditSummaryTest, AWindowIsWrittenWhenItEndsWithoutFurtherEvents) {
  auto o = SummaryOptions();
  o.summary_window = std::chrono::milliseconds(100);
  auto log = OpenLog(o);
  for (int i = 0; i < 5; ++i) log->Append(Event(i));
  ASSERT_TRUE(aegis::testing::WaitFor([&] {
    uint64_t counted = 0;
    for (const auto& s : WithAction(Lines(*log), "infer.summary")) counted += s["summary"]["count"].get<uint64_t>();
    return counted == 5;
  }));
  for (const auto& s : WithAction(Lines(*log), "infer.summary")) EXPECT_EQ(s["summary"]["window_ms"], 100);
}

TEST_F(AuditSummaryTest, ClosingTheLogWritesTheOpenWindowsBeforeAuditStop) {
  {
    auto log = OpenLog(SummaryOptions());
    for (int i = 0; i < 10; ++i) log->Append(Event(i));
  }
  ExpectVerifies();
  auto log = OpenLog(SummaryOptions());
  auto events = Lines(*log);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back()["action"], "audit.start");
  EXPECT_EQ(events[events.size() - 2]["action"], "audit.stop");
  uint64_t counted = 0;
  for (const auto& s : WithAction(events, "infer.summary")) counted += s["summary"]["count"].get<uint64_t>();
  EXPECT_EQ(counted, 10u);
  EXPECT_TRUE(WithAction(events, "infer").empty());
}

TEST_F(AuditSummaryTest, AllModeWritesEveryInference) {
  auto log = OpenLog();
  for (int i = 0; i < 10; ++i) log->Append(Event(i));
  ASSERT_OK(log->FlushSummaries());
  auto events = Lines(*log);
  EXPECT_EQ(WithAction(events, "infer").size(), 10u);
  EXPECT_TRUE(WithAction(events, "infer.summary").empty());
}

}  // namespace
}  // namespace aegis::audit
