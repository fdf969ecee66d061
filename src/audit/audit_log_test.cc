#include "aegis/audit/audit_log.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/audit/event_line.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/crypto/encoding.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"

namespace aegis::audit {
namespace {

using testing::Event;

class AuditLogTest : public testing::AuditDir {};

std::vector<nlohmann::json> Parse(const std::vector<std::string>& lines) {
  std::vector<nlohmann::json> out;
  out.reserve(lines.size());
  for (const auto& l : lines) out.push_back(nlohmann::json::parse(l));
  return out;
}

TEST_F(AuditLogTest, AppendsSeqChainedJsonLinesDurablyWithPrivateModes) {
  auto log = OpenLog();
  for (int i = 0; i < 10; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  auto text = ReadFile(Segment0());
  ASSERT_OK(text);
  std::vector<std::string> lines;
  for (size_t pos = 0, nl; (nl = text->find('\n', pos)) != std::string::npos; pos = nl + 1) {
    lines.push_back(text->substr(pos, nl - pos));
  }
  ASSERT_EQ(lines.size(), 12u);  // audit.start + audit.key_created + 10
  auto start = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(start["action"], "audit.start");
  EXPECT_EQ(start["seq"], 0);
  EXPECT_EQ(start["prev"], std::string(64, '0'));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["action"], "audit.key_created");
  MerkleHasher h;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["seq"], i);
    EXPECT_EQ(j["prev"], crypto::HexEncode(h.Leaf(lines[i - 1])));
    if (i < 2) continue;
    EXPECT_EQ(j["request_id"], "req" + std::to_string(i - 2));
    EXPECT_EQ(j["status"], 200);
    EXPECT_TRUE(j["time"].get<std::string>().ends_with("Z"));
  }
  struct stat st {};
  ASSERT_EQ(::stat(Segment0().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(Options().signing_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, SignsHeadsThatVerifyWithThePublishedKey) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 100; ++i) log->Append(Event(i));
    ASSERT_OK(log->SignNow());
    auto stats = log->Stats();
    ASSERT_TRUE(stats.last_head);
    EXPECT_EQ(stats.last_head->tree_size, 102u);
    EXPECT_EQ(stats.tree_size, 102u);
    auto key = ReadAuditPublicKey(dir_);
    ASSERT_OK(key);
    EXPECT_OK(VerifyTreeHead(*stats.last_head, *key));
    EXPECT_EQ(stats.key_fingerprint, key->fingerprint());
  }  // closing signs a head over audit.stop too
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->error;
  EXPECT_EQ(report->events, 103u);
  EXPECT_EQ(report->signed_tree_size, 103u);
  EXPECT_EQ(report->unsigned_events, 0u);
}

TEST_F(AuditLogTest, HeadsAreSignedWithinTheIntervalWithoutFurtherEvents) {
  auto o = Options();
  o.head_interval = std::chrono::milliseconds(100);
  auto log = OpenLog(o);
  log->Append(Event(1));
  ASSERT_OK(log->Flush());
  aegis::testing::WaitFor(
      [&] {
        auto s = log->Stats();
        return s.last_head && s.last_head->tree_size == 3;
      },
      std::chrono::seconds(5));
  auto s = log->Stats();
  ASSERT_TRUE(s.last_head);
  EXPECT_EQ(s.last_head->tree_size, 3u);
}

TEST_F(AuditLogTest, RecentSpansSegmentsOldestFirst) {
  auto o = Options();
  o.segment_max_bytes = uint64_t{16} * 1024;  // many segments
  auto log = OpenLog(o);
  for (int i = 0; i < 3000; ++i) log->Append(Event(i));
  auto recent = log->Recent(1500);
  ASSERT_OK(recent);
  ASSERT_EQ(recent->size(), 1500u);
  auto parsed = Parse(*recent);
  EXPECT_EQ(parsed.front()["request_id"], "req1500");
  EXPECT_EQ(parsed.back()["request_id"], "req2999");
  for (size_t i = 1; i < parsed.size(); ++i) ASSERT_EQ(parsed[i]["seq"], parsed[i - 1]["seq"].get<uint64_t>() + 1);
  size_t segments = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().filename().string().starts_with("segment-")) {
      ++segments;
      EXPECT_LE(std::filesystem::file_size(entry.path()), 16u * 1024);
    }
  }
  EXPECT_GT(segments, 20u);
  ASSERT_OK(log->SignNow());
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->error;
  EXPECT_EQ(report->events, 3002u);
}

TEST_F(AuditLogTest, ReadPagesFromASeqAndFiltersByTime) {
  auto o = Options();
  o.segment_max_bytes = uint64_t{8} * 1024;
  auto log = OpenLog(o);
  for (int i = 0; i < 200; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto cut = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (int i = 200; i < 230; ++i) log->Append(Event(i));
  auto page = log->Read({.from_seq = 50, .since = std::nullopt, .limit = 100});
  ASSERT_OK(page);
  ASSERT_EQ(page->lines.size(), 100u);
  EXPECT_EQ(nlohmann::json::parse(page->lines.front())["seq"], 50);
  ASSERT_TRUE(page->next_seq);
  EXPECT_EQ(*page->next_seq, 150u);
  auto recent = log->Read({.from_seq = std::nullopt, .since = cut, .limit = 1000});
  ASSERT_OK(recent);
  ASSERT_EQ(recent->lines.size(), 30u);
  EXPECT_EQ(nlohmann::json::parse(recent->lines.front())["request_id"], "req200");
  EXPECT_FALSE(recent->next_seq);
}

TEST_F(AuditLogTest, ConcurrentAppendsAreAllRecordedAndSurviveReopen) {
  {
    auto log = OpenLog();
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) log->Append(Event(t * 1000 + i));
      });
    }
    for (auto& th : threads) th.join();
  }
  auto log = OpenLog();
  auto all = log->Recent(10000);
  ASSERT_OK(all);
  // start + key_created + 2000 + stop, then the second start.
  EXPECT_EQ(all->size(), 2004u);
  auto last = nlohmann::json::parse(all->back());
  EXPECT_EQ(last["action"], "audit.start");
  EXPECT_EQ(last["seq"], 2003);
}

TEST_F(AuditLogTest, ATornLastLineIsCutAtOpenAndTheLogStillVerifies) {
  WriteEvents(20);
  {
    // A crash in the middle of a write leaves a partial line.
    FILE* f = std::fopen(Segment0().c_str(), "a");
    std::fputs("{\"seq\":22,\"prev\":\"00", f);
    std::fclose(f);
  }
  auto before = VerifyAuditLog(dir_);
  ASSERT_OK(before);
  EXPECT_TRUE(before->ok) << before->error;
  EXPECT_GT(before->torn_tail_bytes, 0u);
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  auto recent = log->Recent(1);
  ASSERT_OK(recent);
  auto start = nlohmann::json::parse(recent->back());
  EXPECT_EQ(start["seq"], 23);
  EXPECT_NE(start["reason"].get<std::string>().find("torn"), std::string::npos) << start.dump();
}

// Start-up verifies what follows the newest checkpoint (checkpoint_test.cc); a
// log without checkpoints (written before they existed) is verified whole.
TEST_F(AuditLogTest, ATamperedLogIsRefusedAtOpen) {
  WriteEvents(5);
  ASSERT_TRUE(std::filesystem::remove(dir_ / "checkpoints.jsonl"));
  auto text = ReadFile(Segment0());
  ASSERT_OK(text);
  std::string altered = *text;
  altered.replace(altered.find("\"status\":200"), 12, "\"status\":201");
  ASSERT_OK(WriteFileAtomic(Segment0(), altered, 0600));
  auto log = AuditLog::Open(Options());
  ASSERT_FALSE(log.ok());
  EXPECT_STATUS_IS(log, StatusCode::kUnavailable);
  EXPECT_NE(log.status().message().find("event 2 was altered"), std::string::npos) << log.status().message();
}

// The background verifier re-reads the whole log every verify_interval: a log
// altered on disk while the server runs shows in Stats and is itself recorded.
TEST_F(AuditLogTest, TheBackgroundVerifierReportsAndRecordsALogAlteredWhileOpen) {
  auto o = Options();
  o.verify_interval = std::chrono::seconds(1);
  auto log = OpenLog(o);
  for (int i = 0; i < 5; ++i) log->Append(Event(i));
  ASSERT_TRUE(log->SignNow().ok());
  // Altered in place (same length, same inode), as an intruder with write access would.
  auto text = ReadFile(Segment0());
  ASSERT_TRUE(text.ok());
  const size_t at = text->find("\"status\":200");
  ASSERT_NE(at, std::string::npos);
  const int fd = ::open(Segment0().c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "\"status\":201", 12, static_cast<off_t>(at)), 12);
  ::close(fd);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (log->Stats().verified_ok && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const AuditStats stats = log->Stats();
  ASSERT_FALSE(stats.verified_ok);
  EXPECT_NE(stats.verify_detail.find("was altered"), std::string::npos) << stats.verify_detail;
  bool recorded = false;
  for (int tries = 0; tries < 100 && !recorded; ++tries) {
    auto recent = log->Recent(10);
    ASSERT_TRUE(recent.ok());
    for (const auto& line : *recent) recorded |= line.find("\"action\":\"audit.verify_failed\"") != std::string::npos;
    if (!recorded) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(recorded) << "no audit.verify_failed event";
}

// Closing does not wait out the verifier's interval.
TEST_F(AuditLogTest, ALongVerifyIntervalDoesNotDelayClose) {
  auto o = Options();
  o.verify_interval = std::chrono::hours(1);
  auto log = OpenLog(o);
  log->Append(Event(1));
  const auto start = std::chrono::steady_clock::now();
  log.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// While it lives, no file this process writes may grow past `bytes` (writes past
// it fail with EFBIG): a stand-in for a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit small = old_;
    small.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &small);
  }
  ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &old_); }

 private:
  rlimit old_{};
};

// Calls `attempt` every 100 ms until it succeeds (the writer retries every 200 ms), at most 10 s.
template <typename Attempt>
Status RetryUntilOk(Attempt attempt) {
  Status s = attempt();
  for (int tries = 0; tries < 100 && !s.ok(); ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s = attempt();
  }
  return s;
}

TEST_F(AuditLogTest, AFailedWriteIsRolledBackAndRetriedWithoutLosingOrRepeatingEvents) {
  auto o = Options();
  o.segment_max_bytes = uint64_t{24} * 1024;  // the failure also hits segment rotation
  auto log = OpenLog(o);
  ASSERT_OK(log->Flush());
  Status failed;
  {
    FileSizeLimit full(std::filesystem::file_size(Segment0()) + 4096);
    for (int i = 0; i < 300; ++i) log->Append(Event(i));  // ~100 KB
    failed = log->Flush();
  }
  EXPECT_FALSE(failed.ok());
  const Status flushed = RetryUntilOk([&] { return log->Flush(); });
  ASSERT_OK(flushed);
  ASSERT_OK(log->SignNow());
  log.reset();
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  ASSERT_TRUE(report->ok) << report->error;
  auto reopened = OpenLog(o);
  auto lines = reopened->Recent(10000);
  ASSERT_OK(lines);
  std::map<std::string, int> seen;
  for (const auto& line : *lines) seen[nlohmann::json::parse(line)["request_id"].get<std::string>()]++;
  for (int i = 0; i < 300; ++i) EXPECT_EQ(seen["req" + std::to_string(i)], 1) << "req" << i;
}

TEST_F(AuditLogTest, AFailedHeadWriteLeavesNoPartialHead) {
  auto log = OpenLog();
  ASSERT_OK(log->SignNow());
  log->Append(Event(1));
  ASSERT_OK(log->Flush());
  Status failed;
  {
    FileSizeLimit full(std::filesystem::file_size(dir_ / "heads.jsonl") + 40);  // a head is ~250 bytes
    failed = log->SignNow();
  }
  EXPECT_FALSE(failed.ok());
  const Status signed_now = RetryUntilOk([&] { return log->SignNow(); });
  ASSERT_OK(signed_now);
  EXPECT_OK(log->Flush());
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->error;
  EXPECT_EQ(report->unsigned_events, 0u);
}

TEST_F(AuditLogTest, ASecondWriterIsRefused) {
  auto log = OpenLog();
  auto second = AuditLog::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST_F(AuditLogTest, TheSigningKeyIsWrappedByTheKekAndAForeignKekIsRefused) {
  WriteEvents(1);
  auto raw = ReadFile(Options().signing_key_file);
  ASSERT_OK(raw);
  EXPECT_EQ(raw->find("PRIVATE KEY"), std::string::npos) << "the audit key is stored in the clear";
  aegis::testing::ScopedTempDir other;
  auto foreign = keys::LocalKeyProvider::Create(other.path() / "keys", std::nullopt);
  ASSERT_OK(foreign);
  auto o = Options();
  o.kek = foreign->get();
  auto log = AuditLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("unwrap"), std::string::npos) << log.status().message();
}

TEST_F(AuditLogTest, AMissingSigningKeyIsRefusedOnceHeadsExist) {
  WriteEvents(1);
  std::filesystem::remove(Options().signing_key_file);
  auto log = AuditLog::Open(Options());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("missing"), std::string::npos) << log.status().message();
}

TEST_F(AuditLogTest, ALegacyLogBecomesTheFirstSegment) {
  ASSERT_OK(MakeDirectory(dir_, 0700));
  std::string legacy;
  for (int i = 0; i < 3; ++i) legacy += EventToJson(Event(i)) + "\n";
  legacy += "{\"torn";  // a torn last line of the old format is dropped
  ASSERT_OK(WriteFileAtomic(dir_ / "audit.jsonl", legacy, 0600));
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    auto lines = log->Recent(10);
    ASSERT_OK(lines);
    auto parsed = Parse(*lines);
    ASSERT_EQ(parsed.size(), 5u);
    EXPECT_EQ(parsed[0]["request_id"], "req0");
    EXPECT_EQ(parsed[2]["seq"], 2);
    EXPECT_EQ(parsed[3]["action"], "audit.start");
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "audit.jsonl"));
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->error;
}

// The typed fields are written as the strings existing logs hold: a log written
// before they were enums must read (and verify) the same.
TEST(AuditEventTest, TypedFieldsKeepTheirOnDiskStrings) {
  AuditEvent e;
  e.time = std::chrono::system_clock::time_point(std::chrono::seconds(1796412600));
  e.request_id = "r1";
  e.principal = "token:ci";
  e.auth_method = "token";
  e.grant = "consumer:*";
  e.action = "infer";
  e.resource = "model:m/versions/1";
  e.decision = Decision::kAllow;
  e.status = 200;
  e.latency_us = 7;
  e.remote = "127.0.0.1:9";
  e.listener = Listener::kData;
  EXPECT_EQ(EventToJson(e),
            R"({"time":"2026-12-04T19:30:00.000000Z","request_id":"r1","principal":"token:ci","auth_method":"token",)"
            R"("action":"infer","resource":"model:m/versions/1","decision":"allow","grant":"consumer:*","status":200,)"
            R"("latency_us":7,"remote":"127.0.0.1:9","listener":"data"})");
  // A client's correlation ids come right after the request id, only when sent.
  AuditEvent traced = e;
  traced.request_id = "client-7";
  traced.request_id_from_client = true;
  traced.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  EXPECT_NE(EventToJson(traced).find(R"("request_id":"client-7","request_id_origin":"client",)"
                                     R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",)"
                                     R"("principal":"token:ci")"),
            std::string::npos)
      << EventToJson(traced);
  e.decision = Decision::kDeny;
  e.listener = Listener::kAdmin;
  const std::string denied = EventToJson(e);
  EXPECT_NE(denied.find(R"("decision":"deny")"), std::string::npos) << denied;
  EXPECT_NE(denied.find(R"("listener":"admin")"), std::string::npos) << denied;

  const AuditEvent system = SystemEvent(e.time, SystemAction::kAuditVerifyFailed, "audit", "bad", Decision::kDeny);
  EXPECT_EQ(
      EventToJson(system),
      R"({"time":"2026-12-04T19:30:00.000000Z","request_id":"","principal":"system","action":"audit.verify_failed",)"
      R"("resource":"audit","decision":"deny","status":0,"latency_us":0,"remote":"","listener":"cli","reason":"bad"})");
  const std::pair<SystemAction, std::string_view> names[] = {
      {SystemAction::kServerInit, "server.init"},
      {SystemAction::kServerStart, "server.start"},
      {SystemAction::kServerStop, "server.stop"},
      {SystemAction::kModelLoadFailed, "model.load_failed"},
      {SystemAction::kAuditStart, "audit.start"},
      {SystemAction::kAuditStop, "audit.stop"},
      {SystemAction::kAuditKeyCreated, "audit.key_created"},
      {SystemAction::kAuditVerifyFailed, "audit.verify_failed"},
      {SystemAction::kAuditSinkDrop, "audit.sink_drop"},
      {SystemAction::kAuditArchive, "audit.archive"},
      {SystemAction::kAuditPrune, "audit.prune"},
      {SystemAction::kRuntimeWorkerCrashed, "runtime.worker_crashed"},
      {SystemAction::kRuntimeWorkerTimedOut, "runtime.worker_timed_out"},
      {SystemAction::kRuntimeProtocolViolation, "runtime.protocol_violation"},
      {SystemAction::kRuntimeSandboxViolation, "runtime.sandbox_violation"},
      {SystemAction::kRuntimeWorkerRestarted, "runtime.worker_restarted"},
      {SystemAction::kModelWithdrawn, "model.withdrawn"},
      {SystemAction::kHttpConnectionLimit, "http.connection_limit"},
      {SystemAction::kIncidentOpened, "incident.opened"},
      {SystemAction::kIncidentUpdated, "incident.updated"},
      {SystemAction::kIncidentResponse, "incident.response"},
      {SystemAction::kIncidentAcknowledged, "incident.acknowledged"},
      {SystemAction::kIncidentResolved, "incident.resolved"},
      {SystemAction::kConfigReload, "config.reload"},
      {SystemAction::kStoreMigrate, "store.migrate"}};
  for (const auto& [action, name] : names) EXPECT_EQ(SystemActionName(action), name);
}

TEST_F(AuditLogTest, InvalidUtf8AndControlCharactersFromClientsAreEscaped) {
  AuditEvent e = Event(1);
  e.resource = "path:/v2/models/\xff\xfe\n\x01\"";
  std::string json = EventToJson(e);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  auto parsed = nlohmann::json::parse(json);
  const auto resource = parsed["resource"].get<std::string>();
  EXPECT_NE(resource.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(resource.find("\n\x01\""), std::string::npos);
}

// Records what the writer offers; Offer must not block, so it only copies.
class RecordingSink : public AuditSink {
 public:
  std::string_view name() const override { return "recording"; }
  void Offer(std::string_view line) override {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  }
  void OfferHead(std::string_view head) override {
    std::lock_guard lock(mu);
    heads.emplace_back(head);
  }
  SinkStats Stats() const override { return {}; }
  void Stop() override {}
  std::mutex mu;
  std::vector<std::string> lines, heads;
};

TEST_F(AuditLogTest, SinksGetEachDurableLineInOrderAndTheSignedHeads) {
  auto log = OpenLog();
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  log->AddSink(a);
  log->AddSink(b);
  for (int i = 0; i < 50; ++i) log->Append(Event(i));
  ASSERT_OK(log->SignNow());  // once durable and signed, lines and head have been offered
  auto on_disk = log->Recent(100);
  ASSERT_OK(on_disk);
  std::lock_guard lock_a(a->mu), lock_b(b->mu);
  ASSERT_GE(a->lines.size(), 50u);
  ASSERT_LE(a->lines.size(), on_disk->size());
  const std::vector<std::string> tail(on_disk->end() - static_cast<std::ptrdiff_t>(a->lines.size()), on_disk->end());
  EXPECT_EQ(a->lines, tail);
  EXPECT_EQ(b->lines, tail);
  EXPECT_EQ(nlohmann::json::parse(a->lines.back())["request_id"], "req49");
  ASSERT_FALSE(a->heads.empty());
  EXPECT_EQ(a->heads, b->heads);
  EXPECT_EQ(nlohmann::json::parse(a->heads.back())["tree_size"], log->Stats().last_head->tree_size);
}

}  // namespace
}  // namespace aegis::audit
