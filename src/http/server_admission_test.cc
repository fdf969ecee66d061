// Connection admission (admission.h): at a cap the oldest connection that is
// not in a request makes room for the new one, per source and per listener;
// only when every connection is in a request is the new one refused. Plus the
// handshake and first-byte deadlines, source grouping, and the rate-limited
// report of what the limits did.
#include <mutex>

#include <gtest/gtest.h>

#include "admission.h"
#include "test_server.h"

namespace aegis::http::testing {
namespace {

using internal::DescribeSource;
using internal::SourceOf;
using internal::asio::ip::make_address;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A request whose body has not arrived: its connection is in a request.
constexpr const char* kHeadOnly = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n";
constexpr const char* kRequest = "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n";

bool Served(RawTlsClient& client) {
  return client.Write(kRequest) && client.ReadResponse().rfind("HTTP/1.1 200", 0) == 0;
}

// A connection whose request has started (the server has read its head).
std::unique_ptr<RawTlsClient> InRequest(TestServer& ts, const std::string& source = "") {
  const size_t heads = ts.dispatcher.heads().size();
  auto c = std::make_unique<RawTlsClient>(ts.port(), RawTlsOptions{.source_address = source});
  EXPECT_TRUE(c->handshake_ok()) << c->handshake_error();
  EXPECT_TRUE(c->Write(kHeadOnly));
  EXPECT_TRUE(WaitFor([&] { return ts.dispatcher.heads().size() > heads; }));
  return c;
}

// Sends the body InRequest held back: the request is answered.
bool Finish(RawTlsClient& client) {
  return client.Write("body") && client.ReadResponse().rfind("HTTP/1.1 200", 0) == 0;
}

TEST(SourceTest, Ipv4IsTheAddressAndIpv6IsGroupedByPrefix) {
  const auto a = make_address("192.0.2.7");
  EXPECT_EQ(DescribeSource(SourceOf(a, 64), 64), "192.0.2.7");
  EXPECT_NE(SourceOf(a, 64), SourceOf(make_address("192.0.2.8"), 64));
  // A dual-stack listener sees IPv4 clients as mapped addresses: the same source.
  EXPECT_EQ(SourceOf(make_address("::ffff:192.0.2.7"), 64), SourceOf(a, 64));

  const auto x = SourceOf(make_address("2001:db8:1:2:aaaa::1"), 64);
  EXPECT_EQ(x, SourceOf(make_address("2001:db8:1:2:bbbb::9"), 64));
  EXPECT_NE(x, SourceOf(make_address("2001:db8:1:3::1"), 64));
  EXPECT_EQ(DescribeSource(x, 64), "2001:db8:1:2::/64");
  // A prefix that is not a whole number of bytes.
  EXPECT_EQ(SourceOf(make_address("2001:db8:1:2::1"), 60), SourceOf(make_address("2001:db8:1:f::1"), 60));
  EXPECT_NE(SourceOf(make_address("2001:db8:1:12::1"), 60), SourceOf(make_address("2001:db8:1:2::1"), 60));
  EXPECT_NE(SourceOf(make_address("::1"), 128), SourceOf(make_address("::2"), 128));
  EXPECT_EQ(DescribeSource(SourceOf(make_address("::1"), 128), 128), "::1");
}

TEST(AdmissionTest, AtTheCapTheOldestConnectionThatNeverAskedMakesRoom) {
  Limits limits = TestLimits();
  limits.max_connections = 2;
  TestServer ts(limits);
  auto a = std::make_unique<RawTlsClient>(ts.port());
  auto b = std::make_unique<RawTlsClient>(ts.port());
  ASSERT_TRUE(a->handshake_ok() && b->handshake_ok());
  RawTlsClient c(ts.port());
  ASSERT_TRUE(c.handshake_ok()) << c.handshake_error();
  EXPECT_TRUE(a->WaitClosed(seconds(2))) << "the oldest connection was not the one displaced";
  EXPECT_TRUE(Served(c));
  EXPECT_TRUE(Served(*b));
  const ListenerStats stats = ts.server.Stats(ListenerKind::kData);
  EXPECT_EQ(stats.connections_shed, 1u);
  EXPECT_EQ(stats.connections_refused, 0u);
  EXPECT_EQ(stats.connections_accepted, 3u);
}

TEST(AdmissionTest, AConnectionInARequestIsNeverDisplaced) {
  Limits limits = TestLimits();
  limits.max_connections = 2;
  TestServer ts(limits);
  auto a = InRequest(ts);
  auto b = InRequest(ts);
  ASSERT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).connections_active == 2; }));
  RawTlsClient c(ts.port());
  EXPECT_FALSE(c.handshake_ok()) << "a third connection was admitted while both others were in a request";
  EXPECT_EQ(ts.server.Stats(ListenerKind::kData).connections_refused, 1u);
  // Both requests still complete.
  EXPECT_TRUE(Finish(*a));
  EXPECT_TRUE(Finish(*b));
  b.reset();  // frees a slot
  ASSERT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).connections_active == 1; }));
  RawTlsClient d(ts.port());
  ASSERT_TRUE(d.handshake_ok());
  EXPECT_TRUE(Served(d));
}

// An established client idle between requests is displaced only after every
// connection that never asked for anything.
TEST(AdmissionTest, IdleKeepAliveMakesRoomOnlyAfterConnectionsThatNeverAsked) {
  Limits limits = TestLimits();
  limits.max_connections = 2;
  TestServer ts(limits);
  RawTlsClient established(ts.port());
  ASSERT_TRUE(Served(established));  // now idle, and older than `silent`
  RawTlsClient silent(ts.port());
  ASSERT_TRUE(silent.handshake_ok());
  RawTlsClient newer(ts.port());
  ASSERT_TRUE(newer.handshake_ok());
  EXPECT_TRUE(silent.WaitClosed(seconds(2)));
  EXPECT_TRUE(Served(established)) << "the established client was displaced before a silent one";
  // Now only `newer` (never asked) and `established` (idle) are left: the next
  // connection displaces `newer` first, then the one after it `established`.
  ASSERT_TRUE(Served(newer));  // newer is now idle too, and younger
  RawTlsClient last(ts.port());
  ASSERT_TRUE(last.handshake_ok());
  EXPECT_TRUE(established.WaitClosed(seconds(2))) << "the oldest idle connection was not displaced";
  EXPECT_TRUE(Served(newer));
  EXPECT_TRUE(Served(last));
}

TEST(AdmissionTest, PerSourceCapKeepsOneSourceFromTakingTheListener) {
  Limits limits = TestLimits();
  limits.max_connections = 64;
  limits.max_connections_per_source = 2;
  TestServer ts(limits);
  auto a = InRequest(ts, "127.0.0.2");
  auto b = InRequest(ts, "127.0.0.2");
  ASSERT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).connections_active == 2; }));
  RawTlsClient c(ts.port(), RawTlsOptions{.source_address = "127.0.0.2"});
  EXPECT_FALSE(c.handshake_ok()) << "a third connection from one source was admitted";
  EXPECT_EQ(ts.server.Stats(ListenerKind::kData).connections_refused_per_source, 1u);
  // Another source is not affected.
  RawTlsClient other(ts.port(), RawTlsOptions{.source_address = "127.0.0.3"});
  ASSERT_TRUE(other.handshake_ok()) << other.handshake_error();
  EXPECT_TRUE(Served(other));
  // Within its own source a new connection displaces an idle one.
  ASSERT_TRUE(Finish(*a));  // a is idle now
  // The server marks `a` idle just after writing its response; until then a
  // new connection from the source is still refused, so retry.
  std::unique_ptr<RawTlsClient> d;
  ASSERT_TRUE(WaitFor([&] {
    d = std::make_unique<RawTlsClient>(ts.port(), RawTlsOptions{.source_address = "127.0.0.2"});
    return d->handshake_ok();
  })) << d->handshake_error();
  EXPECT_TRUE(a->WaitClosed(seconds(2)));
  EXPECT_TRUE(Served(*d));
  EXPECT_EQ(ts.server.Stats(ListenerKind::kData).connections_shed_per_source, 1u);
  EXPECT_EQ(ts.server.Stats(ListenerKind::kData).connections_shed, 0u);
}

TEST(AdmissionTest, FirstByteDeadline) {
  Limits limits = TestLimits();
  limits.first_byte_timeout = seconds(1);
  limits.idle_timeout = seconds(10);
  TestServer ts(limits);
  RawTlsClient silent(ts.port());
  ASSERT_TRUE(silent.handshake_ok());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.WaitClosed(seconds(4)));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GT(took, milliseconds(800));
  EXPECT_LT(took, milliseconds(2500));
  EXPECT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).first_byte_timeouts == 1; }));
  // After the first request the idle timeout applies, not the first-byte one.
  RawTlsClient client(ts.port());
  ASSERT_TRUE(Served(client));
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_TRUE(Served(client));
}

TEST(AdmissionTest, HandshakeDeadlineIsCounted) {
  Limits limits = TestLimits();
  limits.handshake_timeout = seconds(1);
  TestServer ts(limits);
  RawTlsClient tcp_only(ts.port(), RawTlsOptions{.handshake = false});
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(tcp_only.WaitClosed(seconds(4)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(2500));
  EXPECT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).handshake_timeouts == 1; }));
}

// Many refusals, one report; the report carries the counts and the source.
TEST(AdmissionTest, LimitActionsAreReportedAtMostOnceAMinute) {
  std::mutex mu;
  std::vector<ConnectionLimitReport> reports;
  ServerOptions options{2, 2, seconds(5)};
  options.on_connection_limit = [&](const ConnectionLimitReport& r) {
    std::lock_guard lock(mu);
    reports.push_back(r);
  };
  Limits limits = TestLimits();
  limits.max_connections_per_source = 1;
  TestServer ts(limits, options);
  auto held = InRequest(ts, "127.0.0.2");
  ASSERT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).connections_active == 1; }));
  for (int i = 0; i < 5; ++i) {
    RawTlsClient refused(ts.port(), RawTlsOptions{.source_address = "127.0.0.2"});
    EXPECT_FALSE(refused.handshake_ok());
  }
  ASSERT_TRUE(WaitFor([&] { return ts.server.Stats(ListenerKind::kData).connections_refused_per_source == 5; }));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return !reports.empty();
  }));
  std::this_thread::sleep_for(milliseconds(100));
  std::lock_guard lock(mu);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].listener, ListenerKind::kData);
  EXPECT_EQ(reports[0].source, "127.0.0.2");
  EXPECT_EQ(reports[0].since_last.connections_refused_per_source, 1u);  // the first refusal reports at once
}

}  // namespace
}  // namespace aegis::http::testing
