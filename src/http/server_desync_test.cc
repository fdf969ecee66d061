// Request smuggling (desync) against the real server: an ambiguous head is
// refused with 400 (501 for a coding we do not implement), the response says
// "Connection: close", the connection closes, and the request hidden after it
// never reaches the dispatcher.
#include <gtest/gtest.h>

#include "test_server.h"

namespace aegis::http::testing {
namespace {

using std::chrono::seconds;

constexpr std::string_view kSmuggled = "GET /echo?x=smuggled HTTP/1.1\r\nHost: h\r\n\r\n";

struct Case {
  const char* name;
  std::string head_fields;  // after the request line and Host
  std::string body;         // sent before the smuggled request
  int status = 400;
  const char* version = "HTTP/1.1";
};

std::vector<Case> Cases() {
  // A body that a chunked reader ends at "0\r\n\r\n" and a length reader does not.
  const std::string chunked_end = "0\r\n\r\n";
  return {
      {"xchunked", "Transfer-Encoding: xchunked\r\n", ""},
      {"chunked, identity", "Transfer-Encoding: chunked, identity\r\n", chunked_end},
      {"identity", "Transfer-Encoding: identity\r\n", ""},
      {"gzip", "Transfer-Encoding: gzip\r\n", ""},
      {"empty", "Transfer-Encoding:\r\n", ""},
      {"chunked twice in a list", "Transfer-Encoding: chunked, chunked\r\n", chunked_end},
      {"gzip before chunked", "Transfer-Encoding: gzip, chunked\r\n", chunked_end, 501},
      {"TE in HTTP/1.0", "Transfer-Encoding: chunked\r\n", chunked_end, 400, "HTTP/1.0"},
      {"CL.TE", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked_end},
      {"TE.CL", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "8\r\nSMUGGLED\r\n0\r\n\r\n"},
      {"CL with xchunked", "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n", chunked_end},
      {"space before colon", "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", chunked_end},
      {"tab before value", "Content-Length: 5\r\nTransfer-Encoding:\tchunked\r\n", chunked_end},
      {"bare LF before TE", "Content-Length: 5\r\nX: X\nTransfer-Encoding: chunked\r\n", chunked_end},
      {"bare LF in name", "Content-Length: 5\r\nTransfer-Encoding\n : chunked\r\n", chunked_end},
      {"obs-fold value", "Transfer-Encoding:\r\n chunked\r\n", chunked_end},
      {"obs-fold hides TE", "X: X\r\n Transfer-Encoding: chunked\r\n", chunked_end},
      {"TE.TE chunked then other", "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", chunked_end},
      {"TE.TE other then chunked", "Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n", chunked_end},
      {"equal Content-Lengths", "Content-Length: 0\r\nContent-Length: 0\r\n", ""},
      {"Content-Length list", "Content-Length: 0, 0\r\n", ""},
      {"two Authorization", "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n", ""},
      {"two Content-Type", "Content-Type: a/b\r\nContent-Type: a/b\r\n", ""},
      {"two Inference-Header-Content-Length",
       "Inference-Header-Content-Length: 0\r\nInference-Header-Content-Length: 0\r\n", ""},
      {"two Host", "Host: other\r\n", ""},
  };
}

TEST(ServerDesyncTest, AmbiguousFramingIsRefusedAndClosesTheConnection) {
  TestServer ts;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.handshake_ok());
    ASSERT_TRUE(raw.Write("POST /echo " + std::string(c.version) + "\r\nHost: h\r\n" + c.head_fields + "\r\n" + c.body +
                          std::string(kSmuggled)));
    const std::string response = raw.ReadResponse();
    const std::string status_line = std::string(c.version) + " " + std::to_string(c.status) + " ";
    EXPECT_EQ(response.rfind(status_line, 0), 0u) << response;
    EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos) << response;
    EXPECT_EQ(raw.ReadResponse(seconds(2)), "") << "a second response: the smuggled request was served";
    EXPECT_TRUE(raw.WaitClosed(seconds(2)));
  }
  // Refused before the dispatcher: nothing, smuggled or not, was begun.
  EXPECT_TRUE(ts.dispatcher.heads().empty());
  EXPECT_EQ(ts.dispatcher.rejections().size(), Cases().size());
}

// The same connection keeps working for framing that is unambiguous: chunked
// (with the tab and case RFC 9110 allows) and Content-Length, each followed
// by a pipelined request that is answered in turn.
TEST(ServerDesyncTest, UnambiguousFramingKeepsTheConnection) {
  TestServer ts;
  for (const char* fields : {"Transfer-Encoding: chunked\r\n", "Transfer-Encoding:\tChunked\r\n"}) {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.Write("POST /echo HTTP/1.1\r\nHost: h\r\n" + std::string(fields) +
                          "\r\n5\r\nhello\r\n0\r\n\r\nGET /echo?x=next HTTP/1.1\r\nHost: h\r\n\r\n"));
    const std::string first = raw.ReadResponse();
    EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
    EXPECT_NE(first.find("hello"), std::string::npos) << first;
    const std::string second = raw.ReadResponse();
    EXPECT_EQ(second.rfind("HTTP/1.1 200", 0), 0u) << second;
    EXPECT_NE(second.find("x=next"), std::string::npos) << second;
  }
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(
      raw.Write("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /echo?x=next HTTP/1.1\r\n"
                "Host: h\r\n\r\n"));
  EXPECT_EQ(raw.ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(raw.ReadResponse().find("x=next"), std::string::npos);
}

// A head that arrives a byte at a time is still found, checked and served.
TEST(ServerDesyncTest, HeadSplitAcrossReadsIsChecked) {
  TestServer ts;
  for (const auto& [request, status] : std::vector<std::pair<std::string, std::string>>{
           {"GET /echo?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200"},
           {"GET /echo HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", "HTTP/1.1 400"}}) {
    RawTlsClient raw(ts.port());
    for (const char c : request) ASSERT_TRUE(raw.Write(std::string(1, c)));
    const std::string response = raw.ReadResponse();
    EXPECT_EQ(response.rfind(status, 0), 0u) << response;
  }
}

// Reading heads whole must not delay the answer to garbage: a request line
// Beast refuses is answered at once, though no head end ever arrives.
TEST(ServerDesyncTest, MalformedPartialHeadIsAnsweredAtOnce) {
  TestServer ts;
  for (const char* partial : {"GET /\r\n", "GET /echo HTTP/1.1\nHost: h\n\n", "\xff\x13\x37"}) {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.Write(partial));
    const std::string response = raw.ReadResponse(std::chrono::milliseconds(1500));
    EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << partial << " -> " << response;
  }
}

}  // namespace
}  // namespace aegis::http::testing
