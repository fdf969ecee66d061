// Archiving: sealed segments move to a folder that verifies on its own, the
// live log keeps verifying from where it now starts, the action is audited,
// and an interrupted archive loses nothing.
#include "archive.h"

#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/audit/log_verifier.h"
#include "aegis/crypto/encoding.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"
#include "log_files.h"

namespace aegis::audit {
namespace {

using testing::Event;

class ArchiveTest : public testing::AuditDir {
 protected:
  AuditLogOptions SmallSegments() const {
    auto o = Options();
    o.segment_max_bytes = 4096;
    o.compress_sealed_segments = true;  // archives copy compressed and plain segments alike
    return o;
  }
  std::vector<internal::Segment> Segments(const std::filesystem::path& dir) {
    return internal::ListSegments(dir).value();
  }
  std::filesystem::path Out(const std::string& name) const { return tmp_.path() / name; }
};

TEST_F(ArchiveTest, SealedSegmentsMoveToAFolderThatVerifiesAloneAndTheLiveLogGoesOn) {
  auto log = OpenLog(SmallSegments());
  for (int i = 0; i < 100; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  const auto live_before = Segments(dir_);
  ASSERT_GT(live_before.size(), 4u);

  auto summary = log->Archive(std::chrono::system_clock::now(), Out("a1"));
  ASSERT_OK(summary);
  EXPECT_EQ(summary->first_event, 0u);
  EXPECT_EQ(summary->end_event, Segments(dir_).front().first_seq);
  EXPECT_EQ(summary->segments, live_before.size() - 1);  // all but the newest
  // The archive: standalone, from event 0 to its end, under the same key.
  const auto archived = VerifyPinned(Out("a1"));
  ASSERT_TRUE(archived.ok) << archived.error;
  EXPECT_EQ(archived.first_event, 0u);
  EXPECT_EQ(archived.events, summary->end_event);
  EXPECT_EQ(crypto::HexEncode(archived.root), summary->root);
  EXPECT_TRUE(std::filesystem::exists(Out("a1") / "archive.json"));
  // The live log: from the checkpoint where it now starts, with audit.archive recorded.
  ASSERT_OK(log->SignNow());
  const auto live = VerifyPinned(dir_);
  ASSERT_TRUE(live.ok) << live.error;
  EXPECT_EQ(live.first_event, summary->end_event);
  const auto recent = log->Recent(3).value();
  bool recorded = false;
  for (const auto& line : recent) recorded |= line.find("\"action\":\"audit.archive\"") != std::string::npos;
  EXPECT_TRUE(recorded);

  // More events, then a second archive that starts where the first ended.
  for (int i = 0; i < 60; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  auto second = log->Archive(std::chrono::system_clock::now(), Out("a2"));
  ASSERT_OK(second);
  EXPECT_EQ(second->first_event, summary->end_event);
  const auto archived2 = VerifyPinned(Out("a2"));
  ASSERT_TRUE(archived2.ok) << archived2.error;
  EXPECT_EQ(archived2.first_event, summary->end_event);
  EXPECT_EQ(archived2.events, second->end_event);
  // The same folder twice is refused.
  EXPECT_STATUS_IS(log->Archive(std::chrono::system_clock::now(), Out("a2")), StatusCode::kAlreadyExists);
  log.reset();
  // And the log reopens (start-up from its newest checkpoint) and verifies whole.
  auto reopened = OpenLog(SmallSegments());
  ASSERT_NE(reopened, nullptr);
  reopened.reset();
  EXPECT_TRUE(VerifyPinned(dir_).ok);
}

TEST_F(ArchiveTest, NothingSealedBeforeTheTimeChangesNothing) {
  auto log = OpenLog(SmallSegments());
  for (int i = 0; i < 60; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  const size_t before = Segments(dir_).size();
  auto none = log->Archive(std::chrono::system_clock::now() - std::chrono::hours(1), Out("none"));
  EXPECT_STATUS_IS(none, StatusCode::kNotFound);
  EXPECT_EQ(Segments(dir_).size(), before);
}

TEST_F(ArchiveTest, AnInterruptedRemovalLeavesAVerifiableLogAndIsFinishedNextTime) {
  auto log = OpenLog(SmallSegments());
  for (int i = 0; i < 100; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  auto summary = log->Archive(std::chrono::system_clock::now(), Out("a"));
  ASSERT_OK(summary);
  log.reset();
  // As if the removal (oldest first) had stopped halfway: the archive's newer
  // half is still live.
  const auto archived = Segments(Out("a"));
  for (size_t i = archived.size() / 2; i < archived.size(); ++i) {
    std::filesystem::copy_file(archived[i].path, dir_ / archived[i].path.filename());
  }
  const auto halfway = VerifyPinned(dir_);
  ASSERT_TRUE(halfway.ok) << halfway.error;
  EXPECT_EQ(halfway.first_event, archived[archived.size() / 2].first_seq);
  auto finished = internal::FinishArchivedRemovals(dir_);
  ASSERT_OK(finished);
  EXPECT_EQ(*finished, archived.size() - archived.size() / 2);
  EXPECT_EQ(Segments(dir_).front().first_seq, summary->end_event);
  EXPECT_TRUE(VerifyPinned(dir_).ok);
}

TEST_F(ArchiveTest, AnAlteredArchiveFailsVerification) {
  auto log = OpenLog(SmallSegments());
  for (int i = 0; i < 60; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  ASSERT_OK(log->Archive(std::chrono::system_clock::now(), Out("a")));
  const auto segments = Segments(Out("a"));
  std::filesystem::remove(segments[1].path);  // a segment taken out of the archive
  const auto r = VerifyPinned(Out("a"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("removed or replaced"), std::string::npos) << r.error;
}

TEST_F(ArchiveTest, RetentionPrunesOnlyArchivedSegmentsAndRecordsIt) {
  auto o = SmallSegments();
  o.retention = std::chrono::seconds(1);
  {
    auto log = OpenLog(o);
    for (int i = 0; i < 100; ++i) log->Append(Event(i));
    ASSERT_OK(log->Flush());
    // Archived, but kept live: pruned once sealed more than `retention` ago.
    auto summary = log->Archive(std::chrono::system_clock::now(), Out("kept"), /*keep_live=*/true);
    ASSERT_OK(summary);
    EXPECT_EQ(Segments(dir_).front().first_seq, 0u);
    // Then events that no archive holds, in segments of their own.
    for (int i = 0; i < 100; ++i) log->Append(Event(i));
    ASSERT_OK(log->Flush());
  }
  auto archived = VerifyPinned(Out("kept"));
  ASSERT_TRUE(archived.ok) << archived.error;
  const uint64_t end = archived.events;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  // The next start prunes (and the thread after it, every minute), and records it.
  auto log = OpenLog(o);
  const auto recorded = [&] {
    auto recent = log->Recent(5);
    if (!recent.ok()) return false;
    for (const auto& line : *recent) {
      if (line.find("\"action\":\"audit.prune\"") != std::string::npos &&
          line.find("events 0 to " + std::to_string(end - 1)) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(aegis::testing::WaitFor(recorded));
  EXPECT_EQ(Segments(dir_).front().first_seq, end);
  // What no archive holds stays, however old.
  EXPECT_GT(Segments(dir_).size(), 2u);
  log.reset();
  const auto live = VerifyPinned(dir_);
  EXPECT_TRUE(live.ok) << live.error;
  EXPECT_EQ(live.first_event, end);
  // And nothing is pruned twice or past the archive.
  EXPECT_EQ(internal::PruneArchived(dir_, std::chrono::system_clock::now() + std::chrono::hours(1)).value().segments,
            0u);
}

}  // namespace
}  // namespace aegis::audit
