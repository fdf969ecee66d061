// A replica's audit log (docs/scale-out.md): its name in every event and
// signed head, fixed once, and what the verifier says when someone tries to
// pass one replica's heads off as another's.
#include <gtest/gtest.h>

#include "aegis/audit/event_line.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/audit/tree_head.h"
#include "aegis/crypto/signature.h"
#include "audit_test_util.h"
#include "common/testing/status_matchers.h"

namespace aegis::audit {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    lines.push_back(text.substr(pos, nl - pos));
  }
  return lines;
}

TEST(ReplicaIdTest, TakesPodAndHostNamesAndRefusesTheRest) {
  for (const std::string& ok :
       {std::string("aegis-0"), std::string("r1"), std::string("node_7.example.com"), std::string(63, 'a')}) {
    EXPECT_OK(CheckReplicaId(ok)) << ok;
  }
  for (std::string bad : {std::string(), std::string(64, 'a'), std::string("-lead"), std::string(".hidden"),
                          std::string("a b"), std::string("a/b"), std::string("a\"b"), std::string("caf\xC3\xA9"),
                          std::string("a\nb"), std::string("a\0b", 3)}) {
    EXPECT_FALSE(CheckReplicaId(bad).ok()) << bad;
  }
}

TEST(ReplicaHeadTest, TheReplicaIsSignedAndCannotBeChangedOrStripped) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  ASSERT_OK(key);
  Hash root{};
  root[0] = 7;
  auto head = SignTreeHead(12, root, std::chrono::system_clock::now(), *key, "aegis-1");
  ASSERT_OK(head);
  EXPECT_OK(VerifyTreeHead(*head, key->public_key()));
  // The JSON form carries it and reads back to a head that still verifies.
  const std::string json = HeadToJson(*head);
  EXPECT_NE(json.find("\"replica\":\"aegis-1\""), std::string::npos) << json;
  auto parsed = HeadFromJson(json);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->replica, "aegis-1");
  EXPECT_OK(VerifyTreeHead(*parsed, key->public_key()));

  SignedTreeHead renamed = *head;
  renamed.replica = "aegis-2";
  EXPECT_FALSE(VerifyTreeHead(renamed, key->public_key()).ok());
  SignedTreeHead stripped = *head;  // would verify under V1 if the domains did not differ
  stripped.replica.clear();
  EXPECT_FALSE(VerifyTreeHead(stripped, key->public_key()).ok());
  // And a single server's (V1) head cannot be given a name.
  auto v1 = SignTreeHead(12, root, std::chrono::system_clock::now(), *key);
  ASSERT_OK(v1);
  EXPECT_OK(VerifyTreeHead(*v1, key->public_key()));
  SignedTreeHead named = *v1;
  named.replica = "aegis-1";
  EXPECT_FALSE(VerifyTreeHead(named, key->public_key()).ok());

  EXPECT_FALSE(SignTreeHead(12, root, std::chrono::system_clock::now(), *key, "no spaces").ok());
}

TEST(ReplicaHeadTest, AHeadWithABadReplicaMemberIsRefused) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  ASSERT_OK(key);
  auto head = SignTreeHead(3, Hash{}, std::chrono::system_clock::now(), *key, "r1");
  ASSERT_OK(head);
  std::string json = HeadToJson(*head);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"replica\":\"r1\"", "\"replica\":\"\""},
           {"\"replica\":\"r1\"", "\"replica\":\"r 1\""},
           {"\"replica\":\"r1\"", "\"replica\":1"},
           {"\"replica\":\"r1\"", "\"replica\":\"r1\",\"replica\":\"r2\""}}) {
    std::string altered = json;
    altered.replace(altered.find(from), from.size(), to);
    EXPECT_FALSE(HeadFromJson(altered).ok()) << altered;
  }
}

TEST(ReplicaEventLineTest, TheWriterPutsTheReplicaRightAfterPrev) {
  AuditEvent e = testing::Event(1);
  std::string named, unnamed;
  AppendEventLine(5, Hash{}, "aegis-0", e, named);
  AppendEventLine(5, Hash{}, "", e, unnamed);
  EXPECT_NE(named.find("000\",\"replica\":\"aegis-0\",\"time\":"), std::string::npos) << named;
  EXPECT_EQ(unnamed.find("replica"), std::string::npos) << unnamed;
  // Everything else is the same bytes, and the prefix still parses.
  EXPECT_EQ(named.size(), unnamed.size() + std::string(",\"replica\":\"aegis-0\"").size());
  auto prefix = ParseLinePrefix(named);
  ASSERT_TRUE(prefix.has_value());
  EXPECT_EQ(prefix->seq, 5u);
}

class ReplicaLogTest : public testing::AuditDir {};

TEST_F(ReplicaLogTest, EveryEventAndHeadNamesTheReplicaAndTheLogVerifies) {
  {
    AuditLogOptions o = Options();
    o.replica_id = "aegis-2";
    auto log = OpenLog(o);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->Stats().replica_id, "aegis-2");
    for (int i = 0; i < 5; ++i) log->Append(testing::Event(i));
  }
  auto text = ReadFile(Segment0());
  ASSERT_OK(text);
  const auto lines = Lines(*text);
  ASSERT_EQ(lines.size(), 8u);  // start, key_created, 5 events, stop
  for (const auto& line : lines) EXPECT_NE(line.find(",\"replica\":\"aegis-2\","), std::string::npos) << line;
  auto heads = ReadFile(dir_ / "heads.jsonl");
  ASSERT_OK(heads);
  for (const auto& line : Lines(*heads)) EXPECT_NE(line.find("\"replica\":\"aegis-2\""), std::string::npos) << line;

  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->error;
  EXPECT_EQ(report->replica, "aegis-2");

  // Reopened without an id, the directory's name holds; with another, refused.
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->Stats().replica_id, "aegis-2");
  }
  AuditLogOptions other = Options();
  other.replica_id = "aegis-3";
  auto refused = AuditLog::Open(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("belongs to replica \"aegis-2\""), std::string::npos)
      << refused.status().message();
}

TEST_F(ReplicaLogTest, ARemovedOrEditedNameFileKeepsTheServerOut) {
  {
    AuditLogOptions o = Options();
    o.replica_id = "r0";
    ASSERT_NE(OpenLog(o), nullptr);
  }
  std::filesystem::remove(dir_ / "replica_id");
  auto missing = AuditLog::Open(Options());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("names replica \"r0\""), std::string::npos) << missing.status().message();

  ASSERT_OK(WriteFileAtomic(dir_ / "replica_id", "r9\n", 0600));
  EXPECT_FALSE(AuditLog::Open(Options()).ok());
  ASSERT_OK(WriteFileAtomic(dir_ / "replica_id", "not an id\n", 0600));
  auto broken = AuditLog::Open(Options());
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kDataLoss) << broken.status().message();
}

TEST_F(ReplicaLogTest, AnUnnamedLogCanBeNamedOnceAndStaysVerifiable) {
  WriteEvents(3);  // a single server's log, before replicas
  {
    AuditLogOptions o = Options();
    o.replica_id = "r1";
    auto log = OpenLog(o);
    ASSERT_NE(log, nullptr);
    log->Append(testing::Event(9));
  }
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->error;
  EXPECT_EQ(report->replica, "r1");
}

TEST_F(ReplicaLogTest, AHeadThatRenamesTheReplicaIsFound) {
  {
    AuditLogOptions o = Options();
    o.replica_id = "r1";
    auto log = OpenLog(o);
    ASSERT_NE(log, nullptr);
    log->Append(testing::Event(1));
  }
  // The server refuses to rename a log; a head under another name, even one
  // validly signed with the log's own key, is reported.
  {
    ASSERT_OK(WriteFileAtomic(dir_ / "replica_id", "r2\n", 0600));
    // Put the newest head aside so Open does not refuse, then restore it after.
    auto heads = ReadFile(dir_ / "heads.jsonl");
    ASSERT_OK(heads);
    std::filesystem::remove(dir_ / "checkpoints.jsonl");
    ASSERT_OK(WriteFileAtomic(dir_ / "heads.jsonl", "", 0600));
    AuditLogOptions o = Options();
    auto log = OpenLog(o);
    ASSERT_NE(log, nullptr);
    log->Append(testing::Event(2));
    log.reset();
    auto renamed = ReadFile(dir_ / "heads.jsonl");
    ASSERT_OK(renamed);
    ASSERT_OK(WriteFileAtomic(dir_ / "heads.jsonl", *heads + *renamed, 0600));
  }
  auto report = VerifyAuditLog(dir_);
  ASSERT_OK(report);
  EXPECT_FALSE(report->ok);
  EXPECT_NE(report->error.find("names replica \"r2\" after heads naming \"r1\""), std::string::npos) << report->error;
}

}  // namespace
}  // namespace aegis::audit
