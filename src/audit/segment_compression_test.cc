// zstd-compressed sealed segments: the same events, the same roots; truncation,
// corruption and bombs are tampering, never a crash; crash states in between
// read correctly.
#include "segment_compression.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include "aegis/audit/log_verifier.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"
#include "log_files.h"

namespace aegis::audit {
namespace {

using testing::Event;

std::string Compress(std::string_view text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3));
  return out;
}

TEST(DecompressTest, RoundTripsAndRefusesWhatIsNotWhole) {
  const std::string text(100000, 'x');
  const std::string packed = Compress(text);
  auto back = internal::Decompress(packed);
  ASSERT_OK(back);
  EXPECT_EQ(*back, text);
  EXPECT_EQ(internal::DecompressPrefix(packed, 10).value(), std::string(10, 'x'));
  EXPECT_EQ(internal::Decompress(Compress("")).value(), "");
  // Truncated anywhere, garbage, nothing at all.
  for (size_t cut : {size_t{0}, size_t{1}, size_t{4}, packed.size() / 2, packed.size() - 1}) {
    EXPECT_STATUS_IS(internal::Decompress(packed.substr(0, cut)), StatusCode::kDataLoss) << cut;
  }
  EXPECT_STATUS_IS(internal::Decompress("not zstd at all"), StatusCode::kDataLoss);
  // A bomb: 64 MiB of zeros is a few KiB compressed; past the limit it is refused
  // before it is all in memory.
  const std::string bomb = Compress(std::string(64u << 20, '\0'));
  EXPECT_LT(bomb.size(), 64u << 10);
  auto refused = internal::Decompress(bomb, 1u << 20);
  EXPECT_STATUS_IS(refused, StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("past the limit"), std::string::npos);
}

class CompressedLogTest : public testing::AuditDir {
 protected:
  AuditLogOptions SmallSegments() const {
    auto o = Options();
    o.segment_max_bytes = 4096;
    return o;
  }
  void WriteSegmentedLog(int n) {
    auto log = OpenLog(SmallSegments());
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < n; ++i) log->Append(Event(i));
  }
  std::vector<internal::Segment> Segments() { return internal::ListSegments(dir_).value(); }
  VerifyReport Verify() {
    auto r = VerifyAuditLog(dir_);
    EXPECT_OK(r);
    return r.ok() ? *r : VerifyReport{};
  }
};

TEST_F(CompressedLogTest, SealedSegmentsAreCompressedAndTheLogVerifiesToTheSameRoot) {
  WriteSegmentedLog(100);
  const auto before = Verify();
  ASSERT_TRUE(before.ok) << before.error;
  const size_t n = Segments().size();
  ASSERT_GT(n, 3u);
  auto compressed = internal::CompressSealedSegments(dir_);
  ASSERT_OK(compressed);
  EXPECT_EQ(*compressed, static_cast<int>(n - 1));  // never the newest
  const auto segments = Segments();
  ASSERT_EQ(segments.size(), n);
  for (size_t i = 0; i + 1 < n; ++i) {
    EXPECT_TRUE(segments[i].compressed) << i;
    EXPECT_FALSE(std::filesystem::exists(dir_ / internal::SegmentName(segments[i].first_seq)));
  }
  EXPECT_FALSE(segments.back().compressed);
  const auto after = Verify();
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.root, before.root);
  EXPECT_EQ(after.events, before.events);
  EXPECT_EQ(internal::CompressSealedSegments(dir_).value(), 0);  // idempotent

  // Readers see every event, across compressed segments; the log reopens and goes on.
  auto log = OpenLog(SmallSegments());
  ASSERT_NE(log, nullptr);
  auto all = log->Recent(10000);
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), before.events + 1);  // + the new audit.start
  auto page = log->Read({.from_seq = 5, .since = std::nullopt, .limit = 3});
  ASSERT_OK(page);
  ASSERT_EQ(page->lines.size(), 3u);
  EXPECT_TRUE(page->lines[0].starts_with("{\"seq\":5,"));
}

TEST_F(CompressedLogTest, ATruncatedCorruptOrBombedSegmentIsTamperingNotACrash) {
  WriteSegmentedLog(60);
  ASSERT_OK(internal::CompressSealedSegments(dir_));
  const auto first = Segments()[1];
  ASSERT_TRUE(first.compressed);
  const std::string packed = ReadFile(first.path).value();
  const auto expect_tampered_at = [&](const std::string& bytes, const std::string& what) {
    ASSERT_OK(WriteFileAtomic(first.path, bytes, 0600));
    const auto r = Verify();
    EXPECT_FALSE(r.ok) << what;
    ASSERT_TRUE(r.first_bad_event) << what;
    EXPECT_EQ(*r.first_bad_event, first.first_seq) << what << ": " << r.error;
    EXPECT_NE(r.error.find(first.path.filename().string()), std::string::npos) << r.error;
  };
  expect_tampered_at(packed.substr(0, packed.size() - 3), "truncated");
  std::string flipped = packed;
  flipped[flipped.size() / 2] ^= 0x5a;
  expect_tampered_at(flipped, "corrupt");
  expect_tampered_at(Compress(std::string(8u << 20, 'a')), "other content");
  // Validly compressed, but altered events: the root no longer matches the signed head.
  std::string text = internal::Decompress(packed).value();
  text.replace(text.find("\"status\":200"), 12, "\"status\":201");
  ASSERT_OK(WriteFileAtomic(first.path, Compress(text), 0600));
  const auto r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("altered"), std::string::npos) << r.error;
}

TEST_F(CompressedLogTest, ACompressionCutShortLeavesALogThatReads) {
  WriteSegmentedLog(40);
  const auto plain = Segments()[0];
  const std::string text = ReadFile(plain.path).value();
  // Crashed after the rename, before the unlink: both files; the plain one is read.
  ASSERT_OK(WriteFileAtomic(dir_ / internal::CompressedSegmentName(plain.first_seq), Compress(text), 0600));
  EXPECT_FALSE(Segments()[0].compressed);
  EXPECT_TRUE(Verify().ok);
  // Crashed before the rename: a stray .tmp is ignored and overwritten.
  ASSERT_OK(WriteFileAtomic(dir_ / (internal::CompressedSegmentName(plain.first_seq) + ".tmp"), "junk", 0600));
  EXPECT_TRUE(Verify().ok);
  ASSERT_OK(internal::CompressSealedSegments(dir_));
  EXPECT_TRUE(Segments()[0].compressed);
  const auto r = Verify();
  EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(CompressedLogTest, TheServerCompressesSealedSegmentsInTheBackground) {
  auto o = SmallSegments();
  o.compress_sealed_segments = true;
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 60; ++i) log->Append(Event(i));
  ASSERT_OK(log->Flush());
  ASSERT_TRUE(aegis::testing::WaitFor([&] {
    auto segments = internal::ListSegments(dir_);
    return segments.ok() && segments->size() > 2 && (*segments)[segments->size() - 2].compressed;
  }));
  log.reset();
  const auto r = Verify();
  EXPECT_TRUE(r.ok) << r.error;
}

}  // namespace
}  // namespace aegis::audit
