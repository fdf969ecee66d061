#include "syslog_format.h"

#include <gtest/gtest.h>

namespace aegis::audit::internal {
namespace {

const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1764876600)};  // 2025-12-04T19:30:00Z
const std::string kBom = "\xEF\xBB\xBF";

SyslogOrigin Origin() {
  SyslogOrigin o;
  o.facility = 10;
  o.hostname = "host1";
  o.app_name = "aegis";
  o.procid = "42";
  return o;
}

TEST(SyslogFormatTest, DeniedEventIsAWarningWithStructuredDataAndTheJsonAsMsg) {
  const std::string event =
      R"({"seq":1234,"time":"2026-11-22T01:58:25.123456Z","request_id":"r1","principal":"token:ci",)"
      R"("action":"infer","resource":"model:mlp/versions/1","decision":"deny","status":403})";
  EXPECT_EQ(FormatEventMessage(Origin(), event, 7, kNow),
            "<84>1 2026-11-22T01:58:25.123456Z host1 aegis 42 infer [aegis@32473 seq=\"1234\" decision=\"deny\" "
            "status=\"403\" principal=\"token:ci\" resource=\"model:mlp/versions/1\"][meta sequenceId=\"7\"] " +
                kBom + event);
}

TEST(SyslogFormatTest, AllowedEventIsInfoAndFacilityIsConfigurable) {
  SyslogOrigin o = Origin();
  o.facility = 16;  // local0
  const std::string m = FormatEventMessage(o, R"({"action":"model.push","decision":"allow","status":201})", 1, kNow);
  EXPECT_EQ(m.rfind("<134>1 2025-12-04T19:30:00.000000Z host1 aegis 42 model.push ", 0), 0u) << m;
}

TEST(SyslogFormatTest, EscapesQuoteBackslashAndBracketInParamValues) {
  EXPECT_EQ(EscapeSdValue(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
  EXPECT_EQ(EscapeSdValue("line\nbreak\x7f"), "line?break?");
  EXPECT_EQ(EscapeSdValue("caf\xC3\xA9"), "caf\xC3\xA9");  // UTF-8 is kept
  EXPECT_EQ(EscapeSdValue("ab\xE2\x82\xAC", 4), "ab");     // cut before a split character
  const std::string m = FormatEventMessage(
      Origin(), R"({"action":"infer","decision":"allow","principal":"user:x\"]","resource":"model:a\\b]"})", 1, kNow);
  EXPECT_NE(m.find(R"(principal="user:x\"\]" resource="model:a\\b\]"][meta )"), std::string::npos) << m;
}

TEST(SyslogFormatTest, MsgidIsTheActionSanitizedToPrintableAsciiAndAtMost32Bytes) {
  EXPECT_EQ(SanitizeHeaderField("model.push", 32), "model.push");
  EXPECT_EQ(SanitizeHeaderField("a b\xC3\xA9", 32), "a_b__");
  EXPECT_EQ(SanitizeHeaderField(std::string(40, 'x'), 32), std::string(32, 'x'));
  EXPECT_EQ(SanitizeHeaderField("", 32), "-");
  const std::string m = FormatEventMessage(Origin(), R"({"action":"odd action ]","decision":"allow"})", 1, kNow);
  EXPECT_NE(m.find(" 42 odd_action_] [aegis@32473 "), std::string::npos) << m;
}

TEST(SyslogFormatTest, TimeThatIsNotAnRfc5424TimestampIsReplacedByNow) {
  for (const char* time : {"2026-11-22 01:58:25Z", "2026-11-22T01:58:25.1234567Z", "2026-11-22T01:58:25+01:00", "x",
                           "2026-11-22T01:58:25.Z"}) {
    const std::string event = std::string(R"({"action":"infer","decision":"allow","time":")") + time + "\"}";
    EXPECT_NE(FormatEventMessage(Origin(), event, 1, kNow).find(" 2025-12-04T19:30:00.000000Z "), std::string::npos)
        << time;
  }
  EXPECT_NE(FormatEventMessage(Origin(), R"({"time":"2026-11-22T01:58:25Z"})", 1, kNow).find(" 2026-11-22T01:58:25Z "),
            std::string::npos);
}

TEST(SyslogFormatTest, UnparsableLineIsStillForwardedAsMsg) {
  const std::string m = FormatEventMessage(Origin(), "not json", 3, kNow);
  EXPECT_EQ(m,
            "<86>1 2025-12-04T19:30:00.000000Z host1 aegis 42 - [aegis@32473 decision=\"\" status=\"\" "
            "principal=\"\" resource=\"\"][meta sequenceId=\"3\"] " +
                kBom + "not json");
}

TEST(SyslogFormatTest, SignedTreeHead) {
  const std::string head = R"({"tree_size":1234,"root":"ab12","time":"2026-11-22T01:58:26.000001Z","key_id":"k"})";
  EXPECT_EQ(FormatHeadMessage(Origin(), head, 9, kNow),
            "<86>1 2026-11-22T01:58:26.000001Z host1 aegis 42 tree_head [aegis@32473 tree_size=\"1234\" "
            "root=\"ab12\"][meta sequenceId=\"9\"] " +
                kBom + head);
}

TEST(SyslogFormatTest, TruncationNeverSplitsAUtf8Sequence) {
  const std::string euro = "\xE2\x82\xAC";       // 3 bytes
  const std::string emoji = "\xF0\x9F\x94\x92";  // 4 bytes
  std::string s = "ab" + euro;
  TruncateUtf8(s, 4);
  EXPECT_EQ(s, "ab");
  s = "ab" + euro;
  TruncateUtf8(s, 3);
  EXPECT_EQ(s, "ab");
  s = "ab" + euro;
  TruncateUtf8(s, 5);
  EXPECT_EQ(s, "ab" + euro);  // fits: unchanged
  for (size_t max = 1; max <= 6; ++max) {
    s = "a" + emoji + "z";
    TruncateUtf8(s, max);
    EXPECT_EQ(s, max < 5 ? "a" : (max == 5 ? "a" + emoji : "a" + emoji + "z")) << max;
  }
  s = kBom + "x";
  TruncateUtf8(s, 2);
  EXPECT_EQ(s, "");  // the BOM is a character too
}

TEST(SyslogFormatTest, MetaSequenceIdWrapsWithinRfc5424Range) {
  EXPECT_NE(FormatEventMessage(Origin(), "{}", 2147483647, kNow).find("[meta sequenceId=\"2147483647\"]"),
            std::string::npos);
  EXPECT_NE(FormatEventMessage(Origin(), "{}", 2147483648ull, kNow).find("[meta sequenceId=\"1\"]"), std::string::npos);
}

TEST(SyslogFormatTest, OctetCountingCountsBytes) {
  EXPECT_EQ(OctetCountingFrame("abc"), "3 abc");
  EXPECT_EQ(OctetCountingFrame("\xE2\x82\xAC"), "3 \xE2\x82\xAC");
  EXPECT_EQ(OctetCountingFrame(""), "0 ");
}

}  // namespace
}  // namespace aegis::audit::internal
