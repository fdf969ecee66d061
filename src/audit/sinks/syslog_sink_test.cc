// SyslogSink against real sockets on 127.0.0.1: a UDP receiver, a TCP receiver
// that parses RFC 6587 octet-counting frames, and a TLS receiver (OpenSSL) with
// the http module's test PKI.
#include "aegis/audit/syslog_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "common/testing/status_matchers.h"
#include "common/testing/test_pki.h"
#include "common/testing/wait_for.h"
#include "syslog_format.h"

namespace aegis::audit {
namespace {

using namespace std::chrono_literals;
using ::aegis::testing::WaitFor;

std::string Event(int i, const std::string& extra = "") {
  return R"({"time":"2026-11-22T01:58:25.000001Z","action":"infer","decision":"allow","status":200,"request_id":"r)" +
         std::to_string(i) + "\"" + extra + "}";
}

// A socket bound to 127.0.0.1:0.
int BoundSocket(int type, uint16_t& port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  if (type == SOCK_STREAM) ::listen(fd, 8);
  return fd;
}

int AcceptWithin(int listener, std::chrono::milliseconds timeout) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return -1;
  return ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

// Reads one octet-counted frame with `read(buf, n)`; empty on EOF/timeout.
template <typename Read>
std::string ReadFrame(Read read) {
  std::string len;
  char c;
  while (read(&c, 1) == 1) {
    if (c == ' ') break;
    if (c < '0' || c > '9' || len.size() > 7) return {};
    len += c;
  }
  if (len.empty()) return {};
  std::string msg(std::stoul(len), '\0');
  size_t got = 0;
  while (got < msg.size()) {
    const ssize_t n = read(msg.data() + got, msg.size() - got);
    if (n <= 0) return {};
    got += static_cast<size_t>(n);
  }
  return msg;
}

std::string ReadTcpFrame(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return ReadFrame([fd](char* b, size_t n) { return ::recv(fd, b, n, 0); });
}

SyslogOptions Options(SyslogTransportKind kind, uint16_t port) {
  SyslogOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.transport = kind;
  o.hostname = "testhost";
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  o.stop_drain = 300ms;
  o.timeout = 2s;
  return o;
}

TEST(SyslogSinkTest, UdpSendsOneRfc5424DatagramPerEvent) {
  uint16_t port = 0;
  const int rx = BoundSocket(SOCK_DGRAM, port);
  ASSERT_GE(rx, 0);
  auto sink = SyslogSink::Create(Options(SyslogTransportKind::kUdp, port));
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  char buf[70000];
  pollfd p{rx, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  const ssize_t n = ::recv(rx, buf, sizeof buf, 0);
  const std::string got(buf, static_cast<size_t>(n));
  const std::string expected_prefix = "<86>1 2026-11-22T01:58:25.000001Z testhost aegis " + std::to_string(getpid()) +
                                      " infer [aegis@32473 decision=\"allow\" status=\"200\"";
  EXPECT_EQ(got.rfind(expected_prefix, 0), 0u) << got;
  EXPECT_EQ(got.substr(got.size() - Event(1).size()), Event(1));
  EXPECT_TRUE(WaitFor([&] { return (*sink)->Stats().delivered == 1; }));
  (*sink)->Stop();
  ::close(rx);
}

TEST(SyslogSinkTest, UdpTruncatesAtTheLimitOnACharacterBoundary) {
  uint16_t port = 0;
  const int rx = BoundSocket(SOCK_DGRAM, port);
  auto o = Options(SyslogTransportKind::kUdp, port);
  o.max_message_bytes = 600;
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  std::string long_value;
  for (int i = 0; i < 400; ++i) long_value += "\xE2\x82\xAC";  // 1200 bytes of 3-byte characters
  for (int shift = 0; shift < 3; ++shift) {
    (*sink)->Offer(Event(1, ",\"reason\":\"" + std::string(static_cast<size_t>(shift), 'x') + long_value + "\""));
  }
  for (int shift = 0; shift < 3; ++shift) {
    char buf[70000];
    pollfd p{rx, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    const ssize_t n = ::recv(rx, buf, sizeof buf, 0);
    ASSERT_GT(n, 500);
    EXPECT_LE(n, 600);
    EXPECT_GT(n, 597);  // cut as late as the characters allow
    // The datagram ends with a whole character: its last lead byte is complete.
    const std::string got(buf, static_cast<size_t>(n));
    size_t lead = got.size() - 1;
    while ((static_cast<unsigned char>(got[lead]) & 0xC0) == 0x80) --lead;
    const auto b = static_cast<unsigned char>(got[lead]);
    const size_t want = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    EXPECT_EQ(got.size() - lead, want) << "shift " << shift;
  }
  (*sink)->Stop();
  ::close(rx);
}

TEST(SyslogSinkTest, TcpUsesOctetCountingAndReconnectsWhenTheCollectorCloses) {
  uint16_t port = 0;
  const int listener = BoundSocket(SOCK_STREAM, port);
  auto sink = SyslogSink::Create(Options(SyslogTransportKind::kTcp, port));
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  (*sink)->Offer(Event(2));
  int c1 = AcceptWithin(listener, 5s);
  ASSERT_GE(c1, 0);
  const std::string m1 = ReadTcpFrame(c1), m2 = ReadTcpFrame(c1);
  EXPECT_NE(m1.find("[meta sequenceId=\"1\"]"), std::string::npos) << m1;
  EXPECT_EQ(m1.substr(m1.size() - Event(1).size()), Event(1));
  EXPECT_NE(m2.find("[meta sequenceId=\"2\"]"), std::string::npos) << m2;
  EXPECT_EQ(m2.substr(m2.size() - Event(2).size()), Event(2));
  ::close(c1);  // the collector restarts
  std::this_thread::sleep_for(50ms);
  (*sink)->Offer(Event(3));
  int c2 = AcceptWithin(listener, 5s);
  ASSERT_GE(c2, 0);
  const std::string m3 = ReadTcpFrame(c2);
  EXPECT_NE(m3.find("[meta sequenceId=\"3\"]"), std::string::npos) << m3;
  EXPECT_EQ(m3.substr(m3.size() - Event(3).size()), Event(3));
  EXPECT_TRUE(WaitFor([&] { return (*sink)->Stats().delivered == 3; }));
  EXPECT_EQ((*sink)->Stats().dropped, 0u);
  (*sink)->Stop();
  ::close(c2);
  ::close(listener);
}

TEST(SyslogSinkTest, CollectorDownFillsTheQueueDropsAreCountedAndReported) {
  uint16_t port = 0;
  const int closed = BoundSocket(SOCK_STREAM, port);
  ::close(closed);  // nothing listens there now
  std::mutex mu;
  std::vector<uint64_t> reports;
  auto o = Options(SyslogTransportKind::kTcp, port);
  o.queue_size = 3;
  o.on_drop = [&](uint64_t n) {
    std::lock_guard lock(mu);
    reports.push_back(n);
  };
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(0));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().failures >= 2; }));  // retried, with back-off
  for (int i = 1; i <= 10; ++i) (*sink)->Offer(Event(i));
  // One in hand, three queued, the rest dropped.
  EXPECT_EQ((*sink)->Stats().dropped, 7u);
  EXPECT_EQ((*sink)->Stats().queued, 4u);
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return !reports.empty();
  }));
  const auto start = std::chrono::steady_clock::now();
  (*sink)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  const SinkStats s = (*sink)->Stats();
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.dropped, 11u);  // what was left at Stop counts too
  EXPECT_EQ(s.queued, 0u);
  std::lock_guard lock(mu);
  uint64_t total = 0;
  for (auto n : reports) total += n;
  EXPECT_EQ(total, 11u);
  EXPECT_EQ(reports.front(), 7u);
}

TEST(SyslogSinkTest, PlaintextToANonLoopbackAddressNeedsAllowPlaintext) {
  for (auto kind : {SyslogTransportKind::kUdp, SyslogTransportKind::kTcp}) {
    auto o = Options(kind, 514);
    o.host = "192.0.2.1";
    auto refused = SyslogSink::Create(o);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("allow_plaintext"), std::string::npos);
    o.allow_plaintext = true;
    auto allowed = SyslogSink::Create(o);
    EXPECT_OK(allowed);
    (*allowed)->Stop();
  }
  auto tls = Options(SyslogTransportKind::kTls, 6514);
  tls.host = "192.0.2.1";
  auto sink = SyslogSink::Create(tls);
  EXPECT_OK(sink);
  (*sink)->Stop();
  EXPECT_TRUE(IsLoopbackSyslogHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackSyslogHost("127.8.9.10"));
  EXPECT_TRUE(IsLoopbackSyslogHost("::1"));
  EXPECT_TRUE(IsLoopbackSyslogHost("localhost"));
  EXPECT_FALSE(IsLoopbackSyslogHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackSyslogHost("localhost.example"));
}

TEST(SyslogSinkTest, ParsesAddressesAndFacilities) {
  auto a = ParseSyslogAddress("[::1]:6514");
  ASSERT_OK(a);
  EXPECT_EQ(a->first, "::1");
  EXPECT_EQ(a->second, 6514);
  for (const char* bad : {"host", "host:", "host:0", "host:70000", ":514", "[::1]514", "a b:514", "::1:514"}) {
    EXPECT_FALSE(ParseSyslogAddress(bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseSyslogFacility("authpriv"), 10);
  EXPECT_EQ(*ParseSyslogFacility("auth"), 4);
  EXPECT_EQ(*ParseSyslogFacility("local7"), 23);
  EXPECT_FALSE(ParseSyslogFacility("local8").ok());
  EXPECT_FALSE(ParseSyslogFacility("kern").ok());
}

// A one-connection TLS collector on 127.0.0.1 that records the frames it reads.
class TlsCollector {
 public:
  // `client_ca`: require a client certificate from this CA.
  TlsCollector(const std::filesystem::path& cert, const std::filesystem::path& key,
               const std::filesystem::path& client_ca = {}) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    if (!client_ca.empty()) {
      SSL_CTX_load_verify_locations(ctx_, client_ca.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    listener_ = BoundSocket(SOCK_STREAM, port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsCollector() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  int handshakes_failed() const { return failed_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      const int fd = AcceptWithin(listener_, 100ms);
      if (fd < 0) continue;
      timeval tv{0, 200000};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        while (!stop_) {
          int last = 0;
          std::string f =
              ReadFrame([ssl, &last](char* b, size_t n) { return last = SSL_read(ssl, b, static_cast<int>(n)); });
          if (f.empty()) {
            if (SSL_get_error(ssl, last) == SSL_ERROR_WANT_READ) continue;  // read timeout: look at stop_ again
            break;
          }
          std::lock_guard lock(mu_);
          frames_.push_back(std::move(f));
        }
      } else {
        ++failed_;
      }
      SSL_free(ssl);
      ::close(fd);
    }
  }

  SSL_CTX* ctx_;
  uint16_t port_ = 0;
  int listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::vector<std::string> frames_;
  std::thread thread_;
};

TEST(SyslogSinkTest, TlsVerifiesTheCollectorAndSendsOctetCountedFrames) {
  const auto& pki = aegis::testing::TestPki::Get();
  TlsCollector collector(pki.server_cert, pki.server_key);
  auto o = Options(SyslogTransportKind::kTls, collector.port());
  o.ca_file = pki.ca_cert;
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  (*sink)->OfferHead(R"({"tree_size":1,"root":"00","time":"2026-11-22T01:58:26Z"})");
  ASSERT_TRUE(WaitFor([&] { return collector.frames().size() == 2; }));
  const auto frames = collector.frames();
  EXPECT_EQ(frames[0].substr(frames[0].size() - Event(1).size()), Event(1));
  EXPECT_NE(frames[1].find(" tree_head [aegis@32473 tree_size=\"1\" root=\"00\"][meta sequenceId=\"2\"]"),
            std::string::npos)
      << frames[1];
  (*sink)->Stop();
  EXPECT_EQ((*sink)->Stats().delivered, 2u);
}

TEST(SyslogSinkTest, TlsRefusesACollectorFromAnotherCa) {
  const auto& pki = aegis::testing::TestPki::Get();
  TlsCollector collector(pki.other_ca_server_cert, pki.other_ca_server_key);
  auto o = Options(SyslogTransportKind::kTls, collector.port());
  o.ca_file = pki.ca_cert;
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().failures >= 2; }));
  EXPECT_TRUE(collector.frames().empty());
  EXPECT_EQ((*sink)->Stats().delivered, 0u);
  (*sink)->Stop();
}

TEST(SyslogSinkTest, TlsChecksTheCollectorName) {
  const auto& pki = aegis::testing::TestPki::Get();
  TlsCollector collector(pki.wrong_name_cert, pki.wrong_name_key);  // right CA, other.example only
  auto o = Options(SyslogTransportKind::kTls, collector.port());
  o.ca_file = pki.ca_cert;
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().failures >= 2; }));
  EXPECT_TRUE(collector.frames().empty());
  (*sink)->Stop();
}

TEST(SyslogSinkTest, TlsPresentsTheClientCertificate) {
  const auto& pki = aegis::testing::TestPki::Get();
  TlsCollector collector(pki.server_cert, pki.server_key, pki.client_ca_cert);
  auto o = Options(SyslogTransportKind::kTls, collector.port());
  o.ca_file = pki.ca_cert;
  o.cert_file = pki.client_cert;
  o.key_file = pki.client_key;
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  ASSERT_TRUE(WaitFor([&] { return collector.frames().size() == 1; }));
  (*sink)->Stop();
  EXPECT_EQ((*sink)->Stats().delivered, 1u);
  EXPECT_EQ(collector.handshakes_failed(), 0);
}

TEST(SyslogSinkTest, ARefusedClientCertificateIsAFailureNotADelivery) {
  const auto& pki = aegis::testing::TestPki::Get();
  TlsCollector collector(pki.server_cert, pki.server_key, pki.client_ca_cert);
  auto o = Options(SyslogTransportKind::kTls, collector.port());
  o.ca_file = pki.ca_cert;  // and no client certificate: TLS 1.3 reports the refusal after the handshake
  auto sink = SyslogSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(1));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().failures >= 2; }));
  EXPECT_GE(collector.handshakes_failed(), 1);
  EXPECT_TRUE(collector.frames().empty());
  EXPECT_EQ((*sink)->Stats().delivered, 0u);
  (*sink)->Stop();
}

TEST(SyslogSinkTest, TlsRefusesAnUnreadableCaFile) {
  auto o = Options(SyslogTransportKind::kTls, 6514);
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(SyslogSink::Create(o).ok());
  o.ca_file.clear();
  o.cert_file = aegis::testing::TestPki::Get().client_cert;  // without its key
  EXPECT_FALSE(SyslogSink::Create(o).ok());
}

}  // namespace
}  // namespace aegis::audit
