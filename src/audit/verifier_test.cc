// Tampering with a closed log in every way the issue names, and what the
// verifier says about each.
#include <gtest/gtest.h>

#include "aegis/audit/log_verifier.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"

namespace aegis::audit {
namespace {

class VerifierTest : public testing::AuditDir {
 protected:
  // start + key_created + n events + stop, all signed.
  void SetUp() override {
    AuditDir::SetUp();
    WriteEvents(kEvents);
    auto text = ReadFile(Segment0());
    ASSERT_OK(text);
    for (size_t pos = 0, nl; (nl = text->find('\n', pos)) != std::string::npos; pos = nl + 1) {
      lines_.push_back(text->substr(pos, nl - pos));
    }
    ASSERT_EQ(lines_.size(), kEvents + 3u);
  }

  void Rewrite(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    ASSERT_OK(WriteFileAtomic(Segment0(), out, 0600));
  }

  VerifyReport Verify(const VerifyOptions& o = {}) {
    auto r = VerifyAuditLog(dir_, o);
    EXPECT_OK(r);
    return r.ok() ? *r : VerifyReport{};
  }

  static constexpr int kEvents = 40;
  std::vector<std::string> lines_;
};

TEST_F(VerifierTest, AnIntactLogVerifies) {
  auto r = Verify();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.events, kEvents + 3u);
  EXPECT_EQ(r.signed_tree_size, kEvents + 3u);
  EXPECT_FALSE(r.first_bad_event);
}

TEST_F(VerifierTest, AFlippedByteNamesItsEvent) {
  for (size_t target : {size_t{3}, size_t{17}, lines_.size() - 1}) {
    auto lines = lines_;
    const size_t at = lines[target].find("\"principal\"") + 14;
    lines[target][at] ^= 0x01;
    Rewrite(lines);
    auto r = Verify();
    EXPECT_FALSE(r.ok);
    ASSERT_TRUE(r.first_bad_event) << r.error;
    EXPECT_EQ(*r.first_bad_event, target) << r.error;
  }
}

TEST_F(VerifierTest, AChangedPrevMemberNamesItsEvent) {
  auto lines = lines_;
  lines[9][30] = lines[9][30] == 'a' ? 'b' : 'a';  // inside "prev"
  Rewrite(lines);
  auto r = Verify();
  ASSERT_TRUE(r.first_bad_event) << r.error;
  EXPECT_EQ(*r.first_bad_event, 9u) << r.error;
}

TEST_F(VerifierTest, ARemovedEventIsFound) {
  auto lines = lines_;
  lines.erase(lines.begin() + 12);
  Rewrite(lines);
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_event);
  EXPECT_EQ(*r.first_bad_event, 12u) << r.error;
}

TEST_F(VerifierTest, ReorderedEventsAreFound) {
  auto lines = lines_;
  std::swap(lines[20], lines[21]);
  Rewrite(lines);
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_event);
  EXPECT_EQ(*r.first_bad_event, 20u) << r.error;
}

TEST_F(VerifierTest, ADroppedTailUnderASignedHeadIsFound) {
  auto lines = lines_;
  lines.resize(30);
  Rewrite(lines);
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_event);
  EXPECT_EQ(*r.first_bad_event, 30u) << r.error;
  EXPECT_NE(r.error.find("removed from the end"), std::string::npos) << r.error;
}

TEST_F(VerifierTest, AReplacedSegmentIsFound) {
  // A whole log written again from scratch with the same shape but other content.
  std::vector<std::string> forged;
  {
    aegis::testing::ScopedTempDir other;
    auto kek = keys::LocalKeyProvider::Create(other.path() / "keys", std::nullopt);
    ASSERT_OK(kek);
    AuditLogOptions o = Options();
    o.dir = other.path() / "audit";
    o.signing_key_file = other.path() / "keys" / "audit.key";
    o.kek = kek->get();
    {
      auto log = AuditLog::Open(o);
      ASSERT_OK(log);
      for (int i = 0; i < kEvents; ++i) {
        auto e = testing::Event(i);
        e.principal = "token:someone-else";
        (*log)->Append(e);
      }
    }
    std::filesystem::copy_file(o.dir / "segment-00000000000000000000.jsonl", Segment0(),
                               std::filesystem::copy_options::overwrite_existing);
  }
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_event) << r.error;
}

TEST_F(VerifierTest, ARemovedSegmentIsFound) {
  std::filesystem::remove(Segment0());
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.first_bad_event);
  EXPECT_EQ(*r.first_bad_event, 0u) << r.error;
}

TEST_F(VerifierTest, AForgedHeadSignatureIsFound) {
  auto heads = ReadFile(dir_ / "heads.jsonl");
  ASSERT_OK(heads);
  std::string altered = *heads;
  const size_t sig = altered.find("\"signature\":\"") + 14;
  altered[sig] = altered[sig] == 'A' ? 'B' : 'A';
  ASSERT_OK(WriteFileAtomic(dir_ / "heads.jsonl", altered, 0600));
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("signed tree head #1"), std::string::npos) << r.error;
}

TEST_F(VerifierTest, AHeadThatNamesAMemberTwiceIsRefused) {
  // Readers that took the first or the last tree_size would disagree about what was signed.
  auto heads = ReadFile(dir_ / "heads.jsonl");
  ASSERT_OK(heads);
  std::string altered = *heads;
  altered.insert(1, "\"tree_size\":1,");
  ASSERT_OK(WriteFileAtomic(dir_ / "heads.jsonl", altered, 0600));
  auto r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("duplicate key"), std::string::npos) << r.error;
}

TEST_F(VerifierTest, ASwappedAuditKeyIsFoundWhenTheKeyIsPinned) {
  auto original = ReadAuditPublicKey(dir_);
  ASSERT_OK(original);
  // An attacker re-signs everything with a key of their own and publishes it.
  auto other = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  ASSERT_OK(other);
  VerifyOptions o;
  o.pinned_key = other->public_key();
  auto r = Verify(o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not the pinned key"), std::string::npos) << r.error;
  o.pinned_key = *original;
  EXPECT_TRUE(Verify(o).ok);
}

TEST_F(VerifierTest, EventsAfterTheLastHeadAreReportedUnsigned) {
  // No head covers any event: what a crash before the first head leaves.
  auto heads = ReadFile(dir_ / "heads.jsonl");
  ASSERT_OK(heads);
  ASSERT_OK(WriteFileAtomic(dir_ / "heads.jsonl", "", 0600));
  auto r = Verify();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.unsigned_events, kEvents + 3u);
}

}  // namespace
}  // namespace aegis::audit
