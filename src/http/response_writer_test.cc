#include "response_writer.h"

#include <gtest/gtest.h>

namespace aegis::http::internal {
namespace {

std::string Head(const Response& r, ResponseFraming f = {}) {
  std::string out;
  AppendResponseHead(r, f, out);
  return out;
}

TEST(ResponseWriterTest, WritesSecurityHeadersAndFraming) {
  const std::string h = Head(Response::Json(200, "{}"));
  EXPECT_EQ(h.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  for (const char* want : {"Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n",
                           "X-Content-Type-Options: nosniff\r\n", "Cache-Control: no-store\r\n", "Server: aegis\r\n",
                           "Content-Type: application/json\r\n", "Content-Length: 2\r\n"}) {
    EXPECT_NE(h.find(want), std::string::npos) << want;
  }
  EXPECT_EQ(h.find("Connection:"), std::string::npos);
  EXPECT_EQ(h.substr(h.size() - 4), "\r\n\r\n");
}

TEST(ResponseWriterTest, ConnectionHeaderFollowsKeepAlive) {
  EXPECT_NE(Head(Response::Json(200, ""), {false, 11, false}).find("Connection: close\r\n"), std::string::npos);
  const std::string h10 = Head(Response::Json(200, ""), {true, 10, false});
  EXPECT_EQ(h10.rfind("HTTP/1.0 200 OK", 0), 0u);
  EXPECT_NE(h10.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(ResponseWriterTest, DropsUnsafeAndReservedExtraHeaders) {
  Response r = Response::Json(404, "x");
  r.headers = {{"X-Ok", "yes"},          {"X-Bad", "a\r\nSet-Cookie: evil"}, {"Bad Name", "v"},
               {"Content-Length", "99"}, {"transfer-encoding", "chunked"},   {"", "v"}};
  const std::string h = Head(r);
  EXPECT_NE(h.find("X-Ok: yes\r\n"), std::string::npos);
  EXPECT_EQ(h.find("evil"), std::string::npos);
  EXPECT_EQ(h.find("Bad Name"), std::string::npos);
  EXPECT_EQ(h.find("99"), std::string::npos);
  EXPECT_EQ(h.find("chunked"), std::string::npos);
  EXPECT_EQ(h.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
}

TEST(ResponseWriterTest, TheRequestIdsAreTheServersWhateverTheHandlerSet) {
  Response r = Response::Json(500, "x");
  r.headers = {{"X-Request-Id", "forged"}, {"TraceParent", "forged"}};
  std::string h;
  AppendResponseHead(r, ResponseFraming{}, h, ResponseIds{"0123456789abcdef", "00-tp"});
  EXPECT_NE(h.find("X-Request-Id: 0123456789abcdef\r\n"), std::string::npos) << h;
  EXPECT_NE(h.find("traceparent: 00-tp\r\n"), std::string::npos) << h;
  EXPECT_EQ(h.find("forged"), std::string::npos) << h;
  std::string none;
  AppendResponseHead(r, ResponseFraming{}, none, ResponseIds{"", ""});
  EXPECT_EQ(none.find("X-Request-Id"), std::string::npos) << none;
  EXPECT_EQ(none.find("traceparent"), std::string::npos) << none;
}

TEST(ResponseWriterTest, NoBodyFramingFor204AndHead) {
  Response none;
  none.status = 204;
  EXPECT_EQ(Head(none).find("Content-Length"), std::string::npos);
  EXPECT_FALSE(HasBody(none, {}));
  EXPECT_FALSE(HasBody(Response::Json(200, "abc"), {true, 11, true}));
  EXPECT_NE(Head(Response::Json(200, "abc"), {true, 11, true}).find("Content-Length: 3\r\n"), std::string::npos);
  Response odd = Response::Json(42, "");
  EXPECT_EQ(Head(odd).rfind("HTTP/1.1 500", 0), 0u);
}

}  // namespace
}  // namespace aegis::http::internal
