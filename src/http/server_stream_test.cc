// Streaming request bodies into a BodySink: exact bytes, Abort on every failure.
#include <unistd.h>

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "test_server.h"

namespace aegis::http::testing {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(ServerStreamTest, SinkReceivesExactBytes) {
  TestServer ts;
  const std::string data = RandomBytes(3 * 1024 * 1024 + 123);
  const auto file = std::filesystem::temp_directory_path() / ("aegis-upload-" + std::to_string(getpid()));
  std::ofstream(file, std::ios::binary) << data;
  auto client = HttpsClient::Connect(ts.client_options());
  ASSERT_OK(client);
  std::vector<uint64_t> progress;
  auto r = (*client)->Upload("POST", "/upload", file, [&](uint64_t sent, uint64_t total) {
    EXPECT_EQ(total, data.size());
    progress.push_back(sent);
  });
  std::filesystem::remove(file);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"bytes\": " + std::to_string(data.size()) + "}");
  ASSERT_EQ(progress.size(), 4u);
  EXPECT_EQ(progress.back(), data.size());
  auto sink = ts.dispatcher.last_sink();
  ASSERT_TRUE(sink);
  std::lock_guard lock(sink->mu);
  EXPECT_TRUE(sink->bytes == data);
  EXPECT_GE(sink->writes, 13);  // 256 KiB pieces
  EXPECT_EQ(sink->finishes, 1);
  EXPECT_EQ(sink->aborts, 0);
  // The connection is still usable after a streamed body.
  auto again = (*client)->Request("GET", "/echo");
  ASSERT_OK(again);
  EXPECT_EQ(again->status, 200);
}

TEST(ServerStreamTest, ChunkedUploadIsDecoded) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(
      raw.Write("POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  EXPECT_EQ(raw.ReadResponse().rfind("HTTP/1.1 201", 0), 0u);
  auto sink = ts.dispatcher.last_sink();
  std::lock_guard lock(sink->mu);
  EXPECT_EQ(sink->bytes, "hello world");
  EXPECT_EQ(sink->finishes, 1);
}

TEST(ServerStreamTest, AbortWhenClientDisconnectsMidBody) {
  TestServer ts;
  {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.Write("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n"));
    ASSERT_TRUE(raw.Write(std::string(300000, 'x')));
    ASSERT_TRUE(WaitFor([&] {
      auto s = ts.dispatcher.last_sink();
      if (!s) return false;
      std::lock_guard lock(s->mu);
      return s->writes >= 1;
    }));
    raw.CloseTcp();
  }
  auto sink = ts.dispatcher.last_sink();
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(sink->mu);
    return sink->aborts > 0;
  }));
  ASSERT_TRUE(WaitFor([&] { return !ts.dispatcher.completions().empty(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard lock(sink->mu);
  EXPECT_EQ(sink->aborts, 1);
  EXPECT_EQ(sink->finishes, 0);
  EXPECT_LT(sink->bytes.size(), 1000000u);
  EXPECT_EQ(ts.dispatcher.completions(), std::vector<int>{499});
}

TEST(ServerStreamTest, AbortWhenBodyOverLimitOrSinkRefuses) {
  TestServer ts;
  {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.Write("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 9000000\r\n\r\n"));
    EXPECT_EQ(raw.ReadResponse().rfind("HTTP/1.1 413", 0), 0u);
    auto sink = ts.dispatcher.last_sink();
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(sink->mu);
      return sink->aborts == 1;
    }));
    std::lock_guard lock(sink->mu);
    EXPECT_EQ(sink->writes, 0);
    EXPECT_EQ(sink->abort_message, "request body too large");
  }
  {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.Write("POST /upload-fail HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
    const std::string response = raw.ReadResponse();
    EXPECT_EQ(response.rfind("HTTP/1.1 422", 0), 0u) << response;
    EXPECT_NE(response.find(R"({"error": "sink refuses"})"), std::string::npos);
    auto sink = ts.dispatcher.last_sink();
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(sink->mu);
      return sink->aborts == 1;
    }));
    std::lock_guard lock(sink->mu);
    EXPECT_EQ(sink->finishes, 0);
  }
}

TEST(ServerStreamTest, ExpectContinueIsAnswered) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  const std::string interim = raw.ReadResponse();
  EXPECT_EQ(interim.rfind("HTTP/1.1 100", 0), 0u) << interim;
  ASSERT_TRUE(raw.Write("abc"));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 201", 0), 0u) << response;
}

}  // namespace
}  // namespace aegis::http::testing
