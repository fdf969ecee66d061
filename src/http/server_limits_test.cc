// The server's hard limits and refusals: body and header size, malformed HTTP,
// plaintext and old TLS, slow-loris, idle and handshake timeouts.
#include <random>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "common/testing/status_matchers.h"
#include "test_server.h"

namespace aegis::http::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool HasRejection(TestDispatcher& d, int status) {
  for (const auto& [s, reason] : d.rejections()) {
    if (s == status) return true;
  }
  return false;
}

TEST(ServerLimitsTest, BodyOverLimitGets413) {
  TestServer ts;
  auto client = HttpsClient::Connect(ts.client_options());
  ASSERT_OK(client);
  auto ok = (*client)->Request("POST", "/small", std::string(16, 'a'));
  ASSERT_OK(ok);
  EXPECT_EQ(ok->status, 200);
  auto r = (*client)->Request("POST", "/small", std::string(100, 'a'));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, R"({"error": "request body too large"})");
  EXPECT_TRUE(HasRejection(ts.dispatcher, 413));
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.completions().size() == 2; }));
  EXPECT_EQ(ts.dispatcher.completions()[1], 413);
}

TEST(ServerLimitsTest, ChunkedBodyOverLimitGets413) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok());
  ASSERT_TRUE(
      raw.Write("POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  // Exactly at the limit is fine.
  RawTlsClient raw2(ts.port());
  ASSERT_TRUE(
      raw2.Write("POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n"));
  const std::string ok = raw2.ReadResponse();
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  EXPECT_NE(ok.find("0123456789abcdef"), std::string::npos);
}

TEST(ServerLimitsTest, HugeHeaderGets431) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok());
  ASSERT_TRUE(raw.Write("GET /echo HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n"));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 431", 0), 0u) << response.substr(0, 200);
  EXPECT_NE(response.find(R"({"error": "request header too large"})"), std::string::npos);
  EXPECT_TRUE(HasRejection(ts.dispatcher, 431));
}

// RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request with more than
// one, is answered 400 before a handler sees it (two Host lines are how a request
// means one thing to a proxy and another to the server behind it).
TEST(ServerLimitsTest, HostIsRequiredOnceInHttp11) {
  TestServer ts;
  for (const char* bad : {"GET /echo HTTP/1.1\r\n\r\n", "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                          "GET /echo HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"}) {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.handshake_ok());
    ASSERT_TRUE(raw.Write(bad));
    const std::string response = raw.ReadResponse();
    EXPECT_NE(response.find(" 400 "), std::string::npos) << bad << " -> " << response;
    EXPECT_NE(response.find("Host"), std::string::npos) << response;
  }
  // HTTP/1.0 predates Host: served without one.
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("GET /echo HTTP/1.0\r\n\r\n"));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.0 200", 0), 0u) << response;
}

TEST(ServerLimitsTest, MalformedRequestsGet400) {
  TestServer ts;
  for (const char* bad :
       {"GET /echo HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", "G@T /echo HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.handshake_ok());
    ASSERT_TRUE(raw.Write(bad));
    const std::string response = raw.ReadResponse();
    EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << response;
    EXPECT_TRUE(raw.WaitClosed(seconds(2)));
  }
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("GET /echo HTTP/2.0\r\n\r\n"));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  EXPECT_NE(response.find("bad version"), std::string::npos) << response;
}

TEST(ServerLimitsTest, PlaintextHttpGetsNoHttpResponse) {
  TestServer ts;
  const std::string received = PlainTcpExchange(ts.port(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n", seconds(3));
  EXPECT_EQ(received.find("HTTP/"), std::string::npos) << received;
}

TEST(ServerLimitsTest, Tls11IsRefused) {
  TestServer ts;
  RawTlsClient old(ts.port(), TLS1_1_VERSION);
  EXPECT_FALSE(old.handshake_ok());
  // The refusal comes from the server (an alert), not from our own client.
  EXPECT_NE(old.handshake_error().find("protocol version"), std::string::npos) << old.handshake_error();
  RawTlsClient tls12(ts.port(), TLS1_2_VERSION);
  EXPECT_TRUE(tls12.handshake_ok()) << tls12.handshake_error();
}

// The read timeout bounds the whole request, not each read: a client that
// trickles a byte every 300 ms never lets a single read wait 1 s, yet is cut
// off 1 s after its first byte.
TEST(ServerLimitsTest, SlowLorisIsCutOffAtReadTimeout) {
  Limits limits = TestLimits();
  limits.read_timeout = seconds(1);
  limits.idle_timeout = seconds(10);
  TestServer ts(limits);
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok());
  const std::string request = "GET /echo HTTP/1.1\r\nHost: h\r\nX-Padding: aaaaaaaaaaaaaaaa\r\n\r\n";
  const auto started = std::chrono::steady_clock::now();
  bool cut = false;
  for (char c : request) {
    raw.Write(std::string(1, c));
    if (raw.WaitClosed(milliseconds(300))) {
      cut = true;
      break;
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(cut);
  EXPECT_GT(elapsed, milliseconds(900));
  EXPECT_LT(elapsed, milliseconds(2500));
  // OnRejected follows the close by a moment.
  EXPECT_TRUE(WaitFor([&] { return HasRejection(ts.dispatcher, 408); }));
}

TEST(ServerLimitsTest, IdleKeepAliveConnectionIsClosed) {
  Limits limits = TestLimits();
  limits.idle_timeout = seconds(1);
  TestServer ts(limits);
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(raw.ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.WaitClosed(seconds(3)));
  EXPECT_GT(std::chrono::steady_clock::now() - started, milliseconds(800));
  // The HttpsClient notices and reconnects.
  auto client = HttpsClient::Connect(ts.client_options());
  ASSERT_OK(client);
  ASSERT_OK((*client)->Request("GET", "/echo"));
  std::this_thread::sleep_for(milliseconds(1500));
  auto again = (*client)->Request("GET", "/echo");
  ASSERT_OK(again);
  EXPECT_EQ(again->status, 200);
}

TEST(ServerLimitsTest, HandshakeTimeout) {
  Limits limits = TestLimits();
  limits.handshake_timeout = seconds(1);
  TestServer ts(limits);
  const auto started = std::chrono::steady_clock::now();
  PlainTcpExchange(ts.port(), "", seconds(5));  // connect, say nothing
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(2500));
}

// The connection caps: server_admission_test.cc.

// Nothing a client sends can take the server down: random bytes, and random
// mutations of a valid request, each on its own connection.
TEST(ServerLimitsTest, SurvivesGarbage) {
  TestServer ts;
  std::mt19937 rng(7);
  const std::string valid = "POST /echo?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  for (int i = 0; i < 60; ++i) {
    std::string bytes = valid;
    if (i % 2 == 0) {
      bytes.resize(rng() % 200 + 1);
      for (auto& c : bytes) c = static_cast<char>(rng());
    } else {
      for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    RawTlsClient raw(ts.port());
    ASSERT_TRUE(raw.handshake_ok());
    raw.Write(bytes);
    raw.ReadResponse(milliseconds(300));
  }
  auto client = HttpsClient::Connect(ts.client_options());
  ASSERT_OK(client);
  auto r = (*client)->Request("GET", "/echo");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace aegis::http::testing
