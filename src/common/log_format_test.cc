// The server log's two line formats: one line per call whatever the strings
// hold, JSON that parses back to what was logged, and the facade writing
// every spdlog call (also those of modules that call spdlog directly) that way.
#include "aegis/common/log_format.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/common/file_util.h"
#include "aegis/common/log.h"
#include "common/testing/scoped_temp_dir.h"

namespace aegis::log {
namespace {

using std::chrono::system_clock;

// 2024-05-01T12:34:56.789Z
const system_clock::time_point kTime =
    system_clock::time_point(std::chrono::seconds(1714566896)) + std::chrono::milliseconds(789);

// What an attacker may put in a model name, a path or an engine message.
const std::string kHostile = std::string("a \"quoted\" \\ word\nfake 2024-01-01T00:00:00.000Z error forged\r\t") +
                             '\x1b' + "[31m" + '\x7f' + '\0' + "end";

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(LogFormatTest, Rfc3339InUtcWithMilliseconds) {
  std::string out;
  AppendRfc3339(out, kTime);
  EXPECT_EQ(out, "2024-05-01T12:34:56.789Z");
  out.clear();
  AppendRfc3339(out, system_clock::time_point(std::chrono::seconds(0)));
  EXPECT_EQ(out, "1970-01-01T00:00:00.000Z");
}

TEST(LogFormatTest, JsonLineIsOneObjectThatParsesBackToWhatWasLogged) {
  const std::string line = FormatLine(Format::kJson, kTime, "error", kHostile,
                                      {.request_id = "r-1", .model = "m\"x", .version = "1", .principal = "user:\n"});
  ASSERT_EQ(Lines(line), 1u) << line;
  ASSERT_EQ(line.back(), '\n');
  for (const char c : line.substr(0, line.size() - 1)) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "raw control character in " << line;
    EXPECT_NE(static_cast<unsigned char>(c), 0x7F) << line;
  }
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["message"], kHostile);
  EXPECT_EQ(j["request_id"], "r-1");
  EXPECT_EQ(j["model"], "m\"x");
  EXPECT_EQ(j["version"], "1");
  EXPECT_EQ(j["principal"], "user:\n");
  EXPECT_FALSE(j.contains("status"));  // absent fields are left out
}

TEST(LogFormatTest, JsonStatusIsANumberAndEmptyFieldsAreLeftOut) {
  const auto j = nlohmann::json::parse(FormatLine(Format::kJson, kTime, "warn", "m", {.status = 503}));
  EXPECT_EQ(j["status"], 503);
  EXPECT_FALSE(j.contains("request_id"));
  EXPECT_FALSE(j.contains("model"));
}

TEST(LogFormatTest, JsonReplacesBytesThatAreNotUtf8AndEscapesLineSeparators) {
  const std::string message = std::string("caf\xc3\xa9 \xff\xfe x\xe2\x80\xa8y \xc2\x85z");
  std::string out;
  AppendJsonString(out, message);
  EXPECT_EQ(out, "\"caf\xc3\xa9 \\ufffd\\ufffd x\\u2028y \\u0085z\"");
  EXPECT_EQ(nlohmann::json::parse(out), "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd x\xe2\x80\xa8y \xc2\x85z");
}

TEST(LogFormatTest, TextEscapesEverythingThatCouldStartANewLine) {
  const std::string line = FormatLine(Format::kText, kTime, "info", kHostile, {});
  ASSERT_EQ(Lines(line), 1u) << line;
  EXPECT_EQ(line,
            "2024-05-01T12:34:56.789Z info a \"quoted\" \\ word\\nfake 2024-01-01T00:00:00.000Z error "
            "forged\\r\\t\\x1b[31m\\x7f\\x00end\n");
  std::string out;
  AppendEscapedText(out, std::string("\xff ok \xe2\x80\xa9 \xc2\x9b"));
  EXPECT_EQ(out, "\\xff ok \\u2029 \\u009b");
}

TEST(LogFormatTest, TextFieldsAreBareWhenSafeAndQuotedOtherwise) {
  const std::string line =
      FormatLine(Format::kText, kTime, "error", "failed",
                 {.request_id = "abc123", .model = "my model", .version = "1", .principal = "a=b\nc", .status = 500});
  EXPECT_EQ(line,
            "2024-05-01T12:34:56.789Z error failed request_id=abc123 model=\"my model\" version=1 "
            "principal=\"a=b\\nc\" status=500\n");
}

TEST(LogFormatTest, LevelAndFormatNames) {
  for (const char* name : {"trace", "debug", "info", "warn", "error"}) {
    const auto level = ParseLevel(name);
    ASSERT_TRUE(level.has_value()) << name;
    EXPECT_EQ(LevelName(*level), name);
  }
  EXPECT_FALSE(ParseLevel("INFO").has_value());
  EXPECT_FALSE(ParseLevel("critical").has_value());
  EXPECT_EQ(ParseFormat("json"), Format::kJson);
  EXPECT_EQ(ParseFormat("text"), Format::kText);
  EXPECT_FALSE(ParseFormat("xml").has_value());
}

// Standard output redirected to a file for the life of the object.
class CapturedStdout {
 public:
  explicit CapturedStdout(const std::filesystem::path& file) : file_(file) {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    std::FILE* f = std::fopen(file.c_str(), "w");
    ::dup2(::fileno(f), STDOUT_FILENO);
    std::fclose(f);
  }
  ~CapturedStdout() { Restore(); }
  std::string Text() {
    Restore();
    return ReadFile(file_).value();
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::filesystem::path file_;
  int saved_ = -1;
};

TEST(LogFacadeTest, EveryLineGoesThroughTheConfiguredFormatWithItsFields) {
  testing::ScopedTempDir tmp;
  CapturedStdout captured(tmp.path() / "out");
  Configure(Level::kInfo, Format::kJson);
  Error({.request_id = "req-9", .model = "mlp", .version = "2", .status = 500}, "engine failed: {}", "bad\nline");
  spdlog::warn("a module calling spdlog {} directly", "itself");  // as src/runtime does
  Debug({}, "not written at info");
  Configure(Level::kDebug, Format::kText);
  Debug({.principal = "token:ci"}, "written at debug");
  Configure(Level::kInfo, Format::kText);
  const std::string text = captured.Text();
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 3u) << text;
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "error");
  EXPECT_EQ(first["message"], "engine failed: bad\nline");
  EXPECT_EQ(first["request_id"], "req-9");
  EXPECT_EQ(first["model"], "mlp");
  EXPECT_EQ(first["version"], "2");
  EXPECT_EQ(first["status"], 500);
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "warn");
  EXPECT_EQ(second["message"], "a module calling spdlog itself directly");
  EXPECT_FALSE(second.contains("request_id")) << "fields must not leak into the next line";
  EXPECT_NE(lines[2].find(" debug written at debug principal=token:ci"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace aegis::log
