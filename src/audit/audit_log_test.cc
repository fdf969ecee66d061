#include "aegis/audit/audit_log.h"

#include <filesystem>
#include <sys/stat.h>
#include <mutex>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/common/file_util.h"
#include "common/testing/scoped_temp_dir.h"

namespace aegis::audit {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  static AuditEvent Event(int i) {
    AuditEvent e;
    e.time = std::chrono::system_clock::now();
    e.request_id = "req" + std::to_string(i);
    e.principal = "admin";
    e.action = "infer";
    e.resource = "model:m/versions/1";
    e.decision = "allow";
    e.status = 200;
    e.latency_us = i;
    e.remote = "127.0.0.1:1234";
    e.listener = "data";
    return e;
  }

  testing::ScopedTempDir tmp_;
  const std::filesystem::path dir_ = tmp_.path() / "audit";
};

TEST_F(AuditLogTest, AppendsJsonLinesDurablyWithPrivateMode) {
  auto log = AuditLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 10; ++i) (*log)->Append(Event(i));
  ASSERT_TRUE((*log)->Flush().ok());
  auto text = ReadFile(dir_ / "audit.jsonl");
  ASSERT_TRUE(text.ok());
  size_t lines = 0;
  for (size_t pos = 0; (pos = text->find('\n', pos)) != std::string::npos; ++pos) ++lines;
  EXPECT_EQ(lines, 10u);
  auto first = nlohmann::json::parse(text->substr(0, text->find('\n')));
  EXPECT_EQ(first["request_id"], "req0");
  EXPECT_EQ(first["status"], 200);
  EXPECT_EQ(first["decision"], "allow");
  EXPECT_TRUE(first["time"].get<std::string>().ends_with("Z"));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "audit.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, RecentReturnsTheLastEventsOldestFirst) {
  auto log = AuditLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  // Enough events that the tail spans several 64 KiB read blocks.
  for (int i = 0; i < 3000; ++i) (*log)->Append(Event(i));
  auto recent = (*log)->Recent(1500);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 1500u);
  EXPECT_EQ(nlohmann::json::parse(recent->front())["request_id"], "req1500");
  EXPECT_EQ(nlohmann::json::parse(recent->back())["request_id"], "req2999");
  auto all = (*log)->Recent(10000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3000u);
}

TEST_F(AuditLogTest, ConcurrentAppendsAreAllRecordedAndSurviveReopen) {
  {
    auto log = AuditLog::Open(dir_);
    ASSERT_TRUE(log.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) (*log)->Append(Event(t * 1000 + i));
      });
    }
    for (auto& th : threads) th.join();
  }  // destructor drains
  auto log = AuditLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  auto all = (*log)->Recent(10000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2000u);
  for (const auto& line : *all) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST_F(AuditLogTest, InvalidUtf8FromClientsIsReplacedNotFatal) {
  AuditEvent e = Event(1);
  e.resource = "path:/v2/models/\xff\xfe";
  std::string json = EventToJson(e);
  auto parsed = nlohmann::json::parse(json);
  EXPECT_NE(parsed["resource"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
}

// Records what the writer offers; Offer must not block, so it only copies.
class RecordingSink : public AuditSink {
 public:
  std::string_view name() const override { return "recording"; }
  void Offer(std::string_view line) override {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  }
  void OfferHead(std::string_view) override {}
  SinkStats Stats() const override { return {}; }
  void Stop() override {}
  std::mutex mu;
  std::vector<std::string> lines;
};

TEST_F(AuditLogTest, SinksGetEachDurableLineInOrder) {
  auto log = AuditLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  (*log)->AddSink(a);
  (*log)->AddSink(b);
  for (int i = 0; i < 50; ++i) (*log)->Append(Event(i));
  ASSERT_TRUE((*log)->Flush().ok());  // once durable, every line has been offered
  auto on_disk = (*log)->Recent(100);
  ASSERT_TRUE(on_disk.ok());
  std::lock_guard lock_a(a->mu), lock_b(b->mu);
  EXPECT_EQ(a->lines, *on_disk);
  EXPECT_EQ(b->lines, *on_disk);
  ASSERT_EQ(a->lines.size(), 50u);
  EXPECT_EQ(nlohmann::json::parse(a->lines[7])["request_id"], "req7");
}

}  // namespace
}  // namespace aegis::audit
