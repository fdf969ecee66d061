// Plan::reserve_body, the seam of the memory budget for buffered bodies: asked
// with the Content-Length before any body byte is read, asked as a chunked
// body's buffer grows, its refusal sent as it is with the connection closed,
// and the reservation (owned by the plan) released on every way a request ends.
#include <gtest/gtest.h>

#include "test_server.h"

namespace aegis::http::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<uint64_t> Asks(TestDispatcher& d) {
  MutexLock lock(d.budget().mu);
  return d.budget().asks;
}

void SetLimit(TestDispatcher& d, uint64_t limit) {
  MutexLock lock(d.budget().mu);
  d.budget().limit = limit;
}

// Every reservation was given back (the plans are gone).
bool AllReleased(TestDispatcher& d) {
  return WaitFor([&] {
    MutexLock lock(d.budget().mu);
    return d.budget().open == 0 && d.budget().held == 0;
  });
}

std::string Chunked(size_t total, size_t piece) {
  std::string out;
  for (size_t sent = 0; sent < total; sent += piece) {
    const size_t n = std::min(piece, total - sent);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size + std::string(n, 'c') + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(ServerBudgetTest, ContentLengthIsReservedOnceBeforeTheBody) {
  TestServer ts;
  auto client = HttpsClient::Connect(ts.client_options());
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Request("POST", "/budgeted", std::string(300000, 'b'));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "300000");
  EXPECT_EQ(Asks(ts.dispatcher), std::vector<uint64_t>{300000});
  EXPECT_TRUE(AllReleased(ts.dispatcher));
}

TEST(ServerBudgetTest, ARefusalIsSentAndTheBodyLeftUnread) {
  TestServer ts;
  SetLimit(ts.dispatcher, 1000);
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok());
  // Only the head: the refusal must not wait for the body.
  ASSERT_TRUE(raw.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n"));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 503", 0), 0u) << response;
  EXPECT_NE(response.find("Retry-After: 1\r\n"), std::string::npos) << response;
  EXPECT_NE(response.find(R"({"error": "busy"})"), std::string::npos) << response;
  EXPECT_TRUE(raw.WaitClosed(seconds(2))) << "the unread body must not be taken for the next request";
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.completions().size() == 1; }));
  EXPECT_EQ(ts.dispatcher.completions()[0], 503);
  EXPECT_TRUE(AllReleased(ts.dispatcher));

  // A client that waits for 100 Continue is refused instead of invited.
  RawTlsClient polite(ts.port());
  ASSERT_TRUE(
      polite.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"));
  const std::string answer = polite.ReadResponse();
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_TRUE(AllReleased(ts.dispatcher));
}

TEST(ServerBudgetTest, AChunkedBodyGrowsItsReservationAsItArrives) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(
      raw.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked(200000, 30000)));
  const std::string response = raw.ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_NE(response.find("200000"), std::string::npos) << response;
  EXPECT_EQ(Asks(ts.dispatcher), (std::vector<uint64_t>{65536, 131072, 262144}));
  EXPECT_TRUE(AllReleased(ts.dispatcher));

  // Over the budget part-way: refused once the next growth does not fit. The
  // client sends one byte more than 64 KiB and waits (sending much more than the
  // server reads before it closes could make the kernel reset the connection,
  // response and all).
  SetLimit(ts.dispatcher, 100000);
  RawTlsClient over(ts.port());
  ASSERT_TRUE(over.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n" +
                         std::string(65537, 'c') + "\r\n"));
  const std::string refused = over.ReadResponse();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_TRUE(over.WaitClosed(seconds(2)));
  EXPECT_EQ(Asks(ts.dispatcher).back(), 131072u) << "refused at the growth past 64 KiB";
  EXPECT_TRUE(AllReleased(ts.dispatcher));
}

TEST(ServerBudgetTest, AClientThatLeavesMidBodyGivesItsReservationBack) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + std::string(10, 'x')));
  ASSERT_TRUE(WaitFor([&] { return Asks(ts.dispatcher).size() == 1; }));
  {
    MutexLock lock(ts.dispatcher.budget().mu);
    EXPECT_EQ(ts.dispatcher.budget().held, 100000u) << "held while the body arrives";
  }
  raw.CloseTcp();
  EXPECT_TRUE(AllReleased(ts.dispatcher));
}

TEST(ServerBudgetTest, ATimeoutMidBodyGivesItsReservationBack) {
  Limits limits = TestLimits();
  limits.read_timeout = seconds(1);
  TestServer ts(limits);
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + std::string(10, 'x')));
  ASSERT_TRUE(WaitFor([&] { return Asks(ts.dispatcher).size() == 1; }));
  EXPECT_TRUE(raw.WaitClosed(seconds(3)));
  EXPECT_TRUE(AllReleased(ts.dispatcher));
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.completions().size() == 1; }));
  EXPECT_EQ(ts.dispatcher.completions()[0], 408);
}

TEST(ServerBudgetTest, ABodyOverTheBodyLimitIsNeverReserved) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.Write("POST /budgeted HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999\r\n\r\n"));
  EXPECT_EQ(raw.ReadResponse().rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_TRUE(Asks(ts.dispatcher).empty());
  EXPECT_TRUE(AllReleased(ts.dispatcher));
}

}  // namespace
}  // namespace aegis::http::testing
