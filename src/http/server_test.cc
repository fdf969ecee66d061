// End-to-end tests of HttpsServer with the real HttpsClient over TLS.
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "common/testing/test_pki.h"
#include "test_server.h"

namespace aegis::http::testing {

using ::aegis::testing::TestPki;
namespace {

std::optional<std::string> HeaderOf(const ClientResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::unique_ptr<HttpsClient> MustConnect(const ClientOptions& options) {
  auto client = HttpsClient::Connect(options);
  if (!client.ok()) ADD_FAILURE() << client.status().message();
  return client.ok() ? std::move(client).value() : nullptr;
}

TEST(ServerTest, GetRoundTripWithSecurityHeaders) {
  TestServer ts;
  auto options = ts.client_options();
  options.bearer_token = "tok123";
  auto client = MustConnect(options);
  ASSERT_TRUE(client);
  auto r = client->Request("GET", "/echo?x=a%20b");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("method=GET path=/echo x=a b auth=Bearer tok123 remote=127.0.0.1:"), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("listener=data"), std::string::npos);
  EXPECT_EQ(HeaderOf(*r, "strict-transport-security"), "max-age=63072000; includeSubDomains");
  EXPECT_EQ(HeaderOf(*r, "x-content-type-options"), "nosniff");
  EXPECT_EQ(HeaderOf(*r, "cache-control"), "no-store");
  EXPECT_EQ(HeaderOf(*r, "server"), "aegis");
  EXPECT_EQ(HeaderOf(*r, "content-type"), "text/plain");
  const auto id = HeaderOf(*r, "x-request-id");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->size(), 16u);
  EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos);
}

// A client's valid X-Request-Id and traceparent come back on the response
// and reach the dispatcher; an unsafe one is replaced by the server's own, on
// every kind of answer (a handler's, an immediate one, the server's refusal).
TEST(ServerTest, RequestIdsAreEchoedOnlyWhenValid) {
  TestServer ts;
  constexpr std::string_view kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok());
  ASSERT_TRUE(raw.Write(
      "GET /echo HTTP/1.1\r\nHost: h\r\nX-Request-Id: client-42\r\ntraceparent: " + std::string(kTrace) + "\r\n\r\n"));
  const std::string echoed = raw.ReadResponse();
  EXPECT_NE(echoed.find("X-Request-Id: client-42\r\n"), std::string::npos) << echoed;
  EXPECT_NE(echoed.find("traceparent: " + std::string(kTrace) + "\r\n"), std::string::npos) << echoed;
  EXPECT_NE(echoed.find("id=client-42 "), std::string::npos) << echoed;

  ASSERT_TRUE(
      raw.Write("GET /immediate HTTP/1.1\r\nHost: h\r\nX-Request-Id: bad id{}\r\n"
                "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n\r\n"));
  const std::string replaced = raw.ReadResponse();
  EXPECT_EQ(replaced.rfind("HTTP/1.1 403", 0), 0u) << replaced;
  EXPECT_EQ(replaced.find("bad id"), std::string::npos) << replaced;
  EXPECT_EQ(replaced.find("traceparent"), std::string::npos) << replaced;
  const size_t at = replaced.find("X-Request-Id: ");
  ASSERT_NE(at, std::string::npos) << replaced;
  EXPECT_EQ(replaced.substr(at + 14, 16).find_first_not_of("0123456789abcdef"), std::string::npos) << replaced;

  // Refused by the server itself (no Host) after the head parsed.
  ASSERT_TRUE(raw.Write("GET /echo HTTP/1.1\r\nX-Request-Id: refused-7\r\n\r\n"));
  const std::string refused = raw.ReadResponse();
  EXPECT_EQ(refused.rfind("HTTP/1.1 400", 0), 0u) << refused;
  EXPECT_NE(refused.find("X-Request-Id: refused-7\r\n"), std::string::npos) << refused;

  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].request_id, "client-42");
  EXPECT_TRUE(heads[0].request_id_from_client);
  EXPECT_EQ(heads[0].traceparent, kTrace);
  EXPECT_FALSE(heads[1].request_id_from_client);
  EXPECT_TRUE(heads[1].traceparent.empty());
}

TEST(ServerTest, PostRoundTripAndKeepAlive) {
  TestServer ts;
  auto client = MustConnect(ts.client_options());
  ASSERT_TRUE(client);
  std::string remote;
  for (int i = 0; i < 20; ++i) {
    const std::string body = "payload-" + std::to_string(i) + std::string(static_cast<size_t>(i) * 1000, 'z');
    auto r = client->Request("POST", "/echo", body, "application/octet-stream");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, body);
    auto g = client->Request("GET", "/echo");
    ASSERT_OK(g);
    const std::string this_remote = g->body.substr(g->body.find("remote="));
    if (i == 0) remote = this_remote.substr(0, this_remote.find(' '));
    EXPECT_EQ(this_remote.substr(0, this_remote.find(' ')), remote);  // same source port: same connection
  }
  // A big body crosses several TLS records and the two-buffer write path.
  const std::string big(size_t{300} * 1024, 'b');
  auto r = client->Request("POST", "/echo", big, "application/octet-stream");
  ASSERT_OK(r);
  EXPECT_EQ(r->body, big);
  EXPECT_EQ(ts.server.Stats(ListenerKind::kData).connections_accepted, 1u);
}

// What the access log reports: the body bytes read and the response bytes
// written, head included.
TEST(ServerTest, CompletionCountsBytesInAndOut) {
  TestServer ts;
  auto client = MustConnect(ts.client_options());
  ASSERT_TRUE(client);
  const std::string body(5000, 'b');
  auto r = client->Request("POST", "/echo", body, "application/octet-stream");
  ASSERT_OK(r);
  ASSERT_EQ(r->status, 200);
  auto g = client->Request("GET", "/echo");
  ASSERT_OK(g);
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.byte_counts().size() == 2; }));
  const auto counts = ts.dispatcher.byte_counts();
  EXPECT_EQ(counts[0].first, body.size());
  EXPECT_GT(counts[0].second, body.size());  // the body and the head
  EXPECT_LT(counts[0].second, body.size() + 1024);
  EXPECT_EQ(counts[1].first, 0u);
  EXPECT_GT(counts[1].second, g->body.size());
}

TEST(ServerTest, ImmediateAndNotFound) {
  TestServer ts;
  auto client = MustConnect(ts.client_options());
  ASSERT_TRUE(client);
  auto r = client->Request("GET", "/immediate");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, R"({"error": "forbidden"})");
  // HEAD: the headers of the GET, no body.
  auto head = client->Request("HEAD", "/echo");
  ASSERT_OK(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_NE(HeaderOf(*head, "content-length"), "0");
  auto nf = client->Request("DELETE", "/nothing");
  ASSERT_OK(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(HeaderOf(*nf, "content-type"), "application/json");
  // An immediate answer with a body pending closes the connection; the client
  // reconnects transparently.
  auto posted = client->Request("POST", "/immediate", std::string(1000, 'x'));
  ASSERT_OK(posted);
  EXPECT_EQ(posted->status, 403);
  EXPECT_EQ(HeaderOf(*posted, "connection"), "close");
  auto again = client->Request("GET", "/echo");
  ASSERT_OK(again);
  EXPECT_EQ(again->status, 200);
}

TEST(ServerTest, HandlerExceptionBecomes500AndServerSurvives) {
  TestServer ts;
  auto client = MustConnect(ts.client_options());
  ASSERT_TRUE(client);
  auto r = client->Request("GET", "/throw");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error": "internal error"})");
  auto ok = client->Request("GET", "/echo");
  ASSERT_OK(ok);
  EXPECT_EQ(ok->status, 200);
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.completions().size() == 2; }));
  EXPECT_EQ(ts.dispatcher.completions()[0], 500);
}

TEST(ServerTest, TraversalAndBadTargetsGet400) {
  TestServer ts;
  auto options = ts.client_options();
  for (const char* target : {"/../x", "/%2e%2e/x", "/a/%2E%2E/b", "/a%00b", "/a%5cb", "/%zz"}) {
    auto client = MustConnect(options);
    ASSERT_TRUE(client);
    auto r = client->Request("GET", target);
    ASSERT_OK(r) << target << ": " << r.status().message();
    EXPECT_EQ(r->status, 400) << target;
    EXPECT_EQ(r->body.rfind("{\"error\": \"", 0), 0u) << r->body;
  }
  const auto rejections = ts.dispatcher.rejections();
  ASSERT_EQ(rejections.size(), 6u);
  for (const auto& [status, reason] : rejections) EXPECT_EQ(status, 400) << reason;
  EXPECT_TRUE(ts.dispatcher.completions().empty());  // never planned
}

TEST(ServerTest, ConnectionCloseAndPipelining) {
  TestServer ts;
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok()) << raw.handshake_error();
  // Two pipelined requests, the second asking to close.
  ASSERT_TRUE(
      raw.Write("GET /echo?x=1 HTTP/1.1\r\nHost: h\r\n\r\nGET /echo?x=2 HTTP/1.1\r\nHost: h\r\n"
                "Connection: close\r\n\r\n"));
  const std::string first = raw.ReadResponse();
  EXPECT_NE(first.find("x=1"), std::string::npos) << first;
  EXPECT_EQ(first.find("Connection: close"), std::string::npos);
  const std::string second = raw.ReadResponse();
  EXPECT_NE(second.find("x=2"), std::string::npos) << second;
  EXPECT_NE(second.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(raw.WaitClosed(std::chrono::seconds(2)));
}

TEST(ServerTest, StopDrainsInFlightRequest) {
  TestServer ts;
  StatusOr<ClientResponse> result = Status::Internal("not run");
  std::thread caller([&] {
    auto client = HttpsClient::Connect(ts.client_options());
    if (client.ok()) result = (*client)->Request("GET", "/slow");
  });
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.slow_started.load() == 1; }));
  // An idle keep-alive connection must not hold up the stop.
  auto idle = MustConnect(ts.client_options());
  ASSERT_TRUE(idle);
  const auto started = std::chrono::steady_clock::now();
  ts.Stop();
  const auto took = std::chrono::steady_clock::now() - started;
  caller.join();
  ASSERT_OK(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, R"({"slow": true})");
  EXPECT_LT(took, std::chrono::seconds(4));
  // The listener is closed.
  EXPECT_FALSE(HttpsClient::Connect(ts.client_options()).ok());
}

TEST(ServerTest, StopBeforeRunAndDrainTimeout) {
  {
    HttpsServer server(ServerOptions{1, 1, std::chrono::seconds(1)});
    server.Stop();
    server.Run();  // returns at once
  }
  // A handler slower than the drain timeout: Run still returns once it ends,
  // and the client sees the connection closed rather than an answer.
  TestServer ts(TestLimits(), std::chrono::seconds(0));
  StatusOr<ClientResponse> result = Status::Internal("not run");
  std::thread caller([&] {
    auto client = HttpsClient::Connect(ts.client_options());
    if (client.ok()) result = (*client)->Request("GET", "/slow");
  });
  ASSERT_TRUE(WaitFor([&] { return ts.dispatcher.slow_started.load() == 1; }));
  ts.Stop();
  caller.join();
  EXPECT_FALSE(result.ok());
  ASSERT_TRUE(WaitFor([&] { return !ts.dispatcher.completions().empty(); }));
  EXPECT_EQ(ts.dispatcher.completions()[0], 499);
}

TEST(ServerTest, AddListenerFailsClearly) {
  const TestPki& pki = TestPki::Get();
  TestDispatcher dispatcher;
  HttpsServer server(ServerOptions{1, 1, std::chrono::seconds(1)});
  Status s = server.AddListener(ListenerKind::kData, "127.0.0.1:0", {pki.dir / "missing.pem", pki.server_key}, {},
                                &dispatcher);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("certificate chain"), std::string::npos) << s.message();
  s = server.AddListener(ListenerKind::kData, "127.0.0.1:0", {pki.server_cert, pki.other_ca_server_key}, {},
                         &dispatcher);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();
  s = server.AddListener(ListenerKind::kData, "127.0.0.1", {pki.server_cert, pki.server_key}, {}, &dispatcher);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  ASSERT_TRUE(
      server.AddListener(ListenerKind::kData, "127.0.0.1:0", {pki.server_cert, pki.server_key}, {}, &dispatcher).ok());
  EXPECT_EQ(
      server.AddListener(ListenerKind::kData, "127.0.0.1:0", {pki.server_cert, pki.server_key}, {}, &dispatcher).code(),
      StatusCode::kAlreadyExists);
  const std::string taken = "127.0.0.1:" + std::to_string(server.BoundPort(ListenerKind::kData));
  s = server.AddListener(ListenerKind::kAdmin, taken, {pki.server_cert, pki.server_key}, {}, &dispatcher);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.message();
  EXPECT_EQ(server.BoundPort(ListenerKind::kAdmin), 0) << "a listener that failed to bind has no port";
}

// The DER of the certificate the server presented on `client`'s connection.
std::string PeerCertificate(RawTlsClient& client) {
  X509* cert = SSL_get1_peer_certificate(client.native_handle());
  if (cert == nullptr) return "";
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<char*>(der), n > 0 ? static_cast<size_t>(n) : 0);
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

// SIGHUP's certificate swap: new connections get the new certificate, an open
// keep-alive connection keeps working on the old one, and files that do not
// load change nothing.
TEST(ServerTest, ReloadTlsSwapsTheCertificateForNewConnectionsOnly) {
  const TestPki& pki = TestPki::Get();
  TestServer ts;
  RawTlsClient before(ts.port());
  ASSERT_TRUE(before.handshake_ok()) << before.handshake_error();
  const std::string old_cert = PeerCertificate(before);
  ASSERT_FALSE(old_cert.empty());

  // Another certificate from the same CA (the raw client checks the chain, not the name).
  ASSERT_OK(ts.server.ReloadTls({{ListenerKind::kData, {pki.wrong_name_cert, pki.wrong_name_key}},
                                 {ListenerKind::kAdmin, {pki.server_cert, pki.server_key}}}));  // no such listener
  RawTlsClient after(ts.port());
  ASSERT_TRUE(after.handshake_ok()) << after.handshake_error();
  const std::string new_cert = PeerCertificate(after);
  EXPECT_NE(new_cert, old_cert);
  ASSERT_TRUE(before.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(before.ReadResponse().rfind("HTTP/1.1 200", 0), 0u) << "the open connection was dropped";

  const Status refused =
      ts.server.ReloadTls({{ListenerKind::kData, {pki.server_cert, pki.other_ca_server_key}}});  // key of another cert
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("listener data: "), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("does not match"), std::string::npos) << refused.message();
  RawTlsClient later(ts.port());
  ASSERT_TRUE(later.handshake_ok()) << later.handshake_error();
  EXPECT_EQ(PeerCertificate(later), new_cert) << "a failed reload must keep the last good certificate";
}

// TlsFiles::server_ca ([tls] ca): a listener starts only with a chain that
// verifies to that CA for a TLS server; every refusal says why.
TEST(ServerTest, ServerCaMustIssueTheCertificate) {
  const TestPki& pki = TestPki::Get();
  const auto garbage = pki.dir / "server-ca-garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  struct Case {
    std::filesystem::path cert, key, ca;
    std::string expect;
  };
  const std::vector<Case> refused = {
      {pki.server_cert, pki.server_key, pki.dir / "missing-server-ca.pem", "missing-server-ca.pem does not exist"},
      {pki.server_cert, pki.server_key, garbage, "holds no PEM certificate"},
      {pki.other_ca_server_cert, pki.other_ca_server_key, pki.ca_cert, "unable to get local issuer certificate"},
      {pki.server_cert, pki.server_key, pki.client_ca_cert, "unable to get local issuer certificate"},
      // Issued by the CA, but for TLS clients only.
      {pki.client_cert, pki.client_key, pki.client_ca_cert, "unsuitable certificate purpose"},
  };
  for (const Case& c : refused) {
    TlsFiles tls{c.cert, c.key};
    tls.server_ca = c.ca;
    TestDispatcher dispatcher;
    HttpsServer server(ServerOptions{1, 1, std::chrono::seconds(1)});
    const Status s = server.AddListener(ListenerKind::kData, "127.0.0.1:0", tls, TestLimits(), &dispatcher);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.cert << " / " << c.ca << ": " << s.message();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
    EXPECT_EQ(server.BoundPort(ListenerKind::kData), 0);
    EXPECT_NE(CheckTlsFiles(tls).message().find(c.expect), std::string::npos) << CheckTlsFiles(tls).message();
  }
  TlsFiles good{pki.server_cert, pki.server_key};
  good.server_ca = pki.ca_cert;
  EXPECT_TRUE(CheckTlsFiles(good).ok()) << CheckTlsFiles(good).message();
  TestServer ts(good);
  auto client = MustConnect(ts.client_options());
  ASSERT_NE(client, nullptr);
  auto r = client->Request("GET", "/echo");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
}

TEST(ServerTest, Ipv6Listener) {
  const TestPki& pki = TestPki::Get();
  TestDispatcher dispatcher;
  HttpsServer server(ServerOptions{1, 1, std::chrono::seconds(1)});
  const Status s =
      server.AddListener(ListenerKind::kAdmin, "[::1]:0", {pki.server_cert, pki.server_key}, TestLimits(), &dispatcher);
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.message();
  std::thread runner([&] { server.Run(); });
  ClientOptions options;
  options.server = "https://[::1]:" + std::to_string(server.BoundPort(ListenerKind::kAdmin));
  options.ca_file = pki.ca_cert;
  auto client = HttpsClient::Connect(options);
  ASSERT_OK(client);
  auto r = (*client)->Request("GET", "/echo");
  ASSERT_OK(r);
  EXPECT_NE(r->body.find("remote=[::1]:"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("listener=admin"), std::string::npos);
  server.Stop();
  runner.join();
}

}  // namespace
}  // namespace aegis::http::testing
