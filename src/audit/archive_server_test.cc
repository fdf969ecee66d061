// The server's own archiving ([audit] archive_dir): it archives on a timer by
// the same path as `aegis audit archive`, redoes a run cut short, and never
// removes a segment while a reader walks the live log.
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "aegis/audit/log_verifier.h"
#include "archive.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"
#include "log_files.h"
#include "segments_lock.h"

namespace aegis::audit {
namespace {

using namespace std::chrono_literals;
using aegis::testing::WaitFor;
using testing::Event;

class ArchiveServerTest : public testing::AuditDir {
 protected:
  AuditLogOptions Archiving() {
    auto o = Options();
    o.segment_max_bytes = 4096;
    o.clock = &clock_;
    o.archive_dir = tmp_.path() / "cold";
    o.archive_after = std::chrono::days(30);
    o.archive_interval = std::chrono::milliseconds(20);
    return o;
  }
  std::filesystem::path FirstFolder() const { return tmp_.path() / "cold" / "events-00000000000000000000"; }

  FakeClock clock_{std::chrono::system_clock::now()};
};

TEST_F(ArchiveServerTest, SegmentsSealedLongerAgoThanArchiveAfterMoveOutOnTheTimer) {
  auto log = OpenLog(Archiving());
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 100; ++i) log->Append(Event(i));
  ASSERT_OK(log->SignNow());
  const size_t sealed = internal::ListSegments(dir_).value().size() - 1;
  ASSERT_GT(sealed, 3u);
  // Runs come and go, but nothing is 30 days old yet.
  ASSERT_TRUE(WaitFor([&] { return log->Stats().archive_runs >= 3; }));
  EXPECT_EQ(log->Stats().archived_segments, 0u);
  EXPECT_EQ(internal::ListSegments(dir_).value().front().first_seq, 0u);

  clock_.Advance(std::chrono::days(31));
  ASSERT_TRUE(WaitFor([&] { return log->Stats().archived_segments > 0; }));
  const AuditStats stats = log->Stats();
  EXPECT_EQ(stats.archived_segments, sealed);
  EXPECT_EQ(stats.archive_failures, 0u);
  const uint64_t live_start = internal::ListSegments(dir_).value().front().first_seq;
  EXPECT_EQ(stats.archived_events, live_start);
  const auto archived = VerifyPinned(FirstFolder());
  ASSERT_TRUE(archived.ok) << archived.error;
  EXPECT_EQ(archived.first_event, 0u);
  EXPECT_EQ(archived.events, live_start);
  ASSERT_OK(log->SignNow());
  const auto live = VerifyPinned(dir_);
  ASSERT_TRUE(live.ok) << live.error;
  EXPECT_EQ(live.first_event, live_start);
  bool recorded = false;
  const std::vector<std::string> recent = log->Recent(20).value();
  for (const auto& line : recent) {
    recorded |= line.find("\"action\":\"audit.archive\"") != std::string::npos &&
                line.find(FirstFolder().string()) != std::string::npos;
  }
  EXPECT_TRUE(recorded) << "audit.archive names the folder";
}

TEST_F(ArchiveServerTest, AnArchiveFolderTheLiveLogNeverRecordedIsMadeAgain) {
  // A crash after the copy (and even its archive.json) but before the live log
  // recorded it: the next run must not be stuck on "already holds an archive".
  std::filesystem::create_directories(FirstFolder());
  std::ofstream(FirstFolder() / "archive.json") << "{\"first_event\":0,\"end_event\":7}\n";
  std::ofstream(FirstFolder() / "segment-00000000000000000000.jsonl") << "torn";
  auto log = OpenLog(Archiving());
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 100; ++i) log->Append(Event(i));
  ASSERT_OK(log->SignNow());
  clock_.Advance(std::chrono::days(31));
  ASSERT_TRUE(WaitFor([&] { return log->Stats().archived_segments > 0; }));
  EXPECT_EQ(log->Stats().archive_failures, 0u);
  const auto archived = VerifyPinned(FirstFolder());
  ASSERT_TRUE(archived.ok) << archived.error;
  EXPECT_GT(archived.events, 7u);
}

TEST_F(ArchiveServerTest, SegmentsAreNotRemovedWhileAReaderHoldsTheLog) {
  auto o = Archiving();
  o.archive_dir.clear();  // archived by hand here, to time it against the reader
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 100; ++i) log->Append(Event(i));
  ASSERT_OK(log->SignNow());
  const auto before = internal::ListSegments(dir_).value();

  // A reader (the verification walk, `aegis audit prove` in another process)
  // holds the shared lock: the archive is copied and recorded, but no live
  // segment goes until the reader is done.
  auto reader = internal::SegmentsLock::Take(dir_, internal::SegmentsLock::Mode::kShared);
  ASSERT_OK(reader);
  auto archived = std::async(std::launch::async, [&] { return log->Archive(clock_.Now(), tmp_.path() / "by-hand"); });
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(tmp_.path() / "by-hand" / "archive.json"); }));
  EXPECT_EQ(archived.wait_for(200ms), std::future_status::timeout);
  EXPECT_EQ(internal::ListSegments(dir_).value().size(), before.size()) << "a segment went under a reader";
  { auto done = std::move(*reader); }  // the reader finishes
  auto summary = archived.get();
  ASSERT_OK(summary);
  EXPECT_EQ(internal::ListSegments(dir_).value().front().first_seq, summary->end_event);

  // And a reader waits for a removal in progress instead of seeing a gap: the
  // log's own reads take the lock too, and verify whole.
  ASSERT_OK(log->SignNow());
  EXPECT_TRUE(VerifyPinned(dir_).ok);
  EXPECT_OK(log->Recent(5));
}

}  // namespace
}  // namespace aegis::audit
