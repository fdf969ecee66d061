// Mutual TLS end to end: the real server with a client CA, the real HttpsClient
// (and a raw OpenSSL client for TLS 1.2, resumption and the CA list), and curl.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/testing/status_matchers.h"
#include "common/testing/test_pki.h"
#include "test_server.h"

namespace aegis::http::testing {

using ::aegis::testing::TestPki;
namespace {

TlsFiles MtlsFiles(bool require) {
  const TestPki& pki = TestPki::Get();
  TlsFiles tls{pki.server_cert, pki.server_key};
  tls.client_ca = pki.client_ca_cert;
  tls.require_client_cert = require;
  return tls;
}

ClientOptions WithCert(ClientOptions options, const std::filesystem::path& cert, const std::filesystem::path& key) {
  options.client_cert = cert;
  options.client_key = key;
  return options;
}

// Connects and asks for /echo: the response, or the error of whichever step
// failed. With TLS 1.3 the client finishes its handshake before the server has
// judged the certificate, so a refusal may only show on the first request.
StatusOr<ClientResponse> GetEcho(const ClientOptions& options) {
  auto client = HttpsClient::Connect(options);
  if (!client.ok()) return client.status();
  return (*client)->Request("GET", "/echo");
}

std::string Output(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
  }
  return out;
}

// The certificate's SHA-256 fingerprint as the openssl CLI computes it,
// lowercase hex without colons.
std::string CliFingerprint(const std::filesystem::path& pem) {
  const std::string out = Output("openssl x509 -in '" + pem.string() + "' -noout -fingerprint -sha256");
  std::string hex;
  for (char c : out.substr(out.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
  }
  return hex;
}

// The subjects of the CAs the server named in its CertificateRequest, as seen
// by the client (empty when it asked for no certificate).
std::vector<std::string> RequestedCaNames(RawTlsClient& client) {
  std::vector<std::string> names;
  const STACK_OF(X509_NAME)* list = SSL_get_client_CA_list(client.native_handle());
  for (int i = 0; list != nullptr && i < sk_X509_NAME_num(list); ++i) {
    char buf[256];
    X509_NAME_oneline(sk_X509_NAME_value(list, i), buf, sizeof buf);
    names.emplace_back(buf);
  }
  return names;
}

struct ShortLivedCert {
  std::filesystem::path cert, key;
};

// A client certificate from the client CA that expires `seconds` from now (the
// CLI counts validity in days, hence the C API).
ShortLivedCert IssueShortLivedClientCert(long seconds) {
  const TestPki& pki = TestPki::Get();
  auto read = [](const std::filesystem::path& path, auto reader) {
    BIO* bio = BIO_new_file(path.c_str(), "r");
    auto* object = reader(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (object == nullptr) throw std::runtime_error("cannot read " + path.string());
    return object;
  };
  X509* ca = read(pki.client_ca_cert, PEM_read_bio_X509);
  EVP_PKEY* ca_key = read(pki.client_ca_cert.parent_path() / "client-ca.key", PEM_read_bio_PrivateKey);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 424242);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), seconds);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("short-lived"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(ca));
  X509_set_pubkey(cert, key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, cert, nullptr, nullptr, 0);
  X509_EXTENSION* eku = X509V3_EXT_conf_nid(nullptr, &ctx, NID_ext_key_usage, "clientAuth");
  X509_add_ext(cert, eku, -1);
  X509_EXTENSION_free(eku);
  X509_sign(cert, ca_key, EVP_sha256());
  ShortLivedCert out{pki.dir / "short-lived.pem", pki.dir / "short-lived.key"};
  BIO* bio = BIO_new_file(out.cert.c_str(), "w");
  PEM_write_bio_X509(bio, cert);
  BIO_free(bio);
  bio = BIO_new_file(out.key.c_str(), "w");
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  X509_free(ca);
  return out;
}

void ExpectRefused(TestServer& ts, const ClientOptions& options, const std::string& what) {
  auto r = GetEcho(options);
  EXPECT_FALSE(r.ok()) << what << ": got status " << (r.ok() ? r->status : 0);
  if (!r.ok()) {
    EXPECT_STATUS_IS(r, StatusCode::kUnavailable) << what << ": " << r.status().message();
  }
  // Never served anonymously instead.
  EXPECT_TRUE(ts.dispatcher.heads().empty()) << what;
}

TEST(ServerMtlsTest, TrustedCertificateReachesDispatcher) {
  TestServer ts(MtlsFiles(/*require=*/true));
  const TestPki& pki = TestPki::Get();
  auto r = GetEcho(WithCert(ts.client_options(), pki.client_cert, pki.client_key));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 1u);
  ASSERT_TRUE(heads[0].client_cert);
  EXPECT_EQ(heads[0].client_cert->subject, TestPki::kClientSubject);
  EXPECT_EQ(heads[0].client_cert->sans, TestPki::ClientSans());
  const std::string expected = CliFingerprint(pki.client_cert);
  ASSERT_EQ(expected.size(), 64u);
  EXPECT_EQ(heads[0].client_cert->fingerprint, expected);
}

TEST(ServerMtlsTest, CertificateViaIntermediateIsAccepted) {
  TestServer ts(MtlsFiles(/*require=*/true));
  const TestPki& pki = TestPki::Get();
  auto r = GetEcho(WithCert(ts.client_options(), pki.chained_client_cert, pki.chained_client_key));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 1u);
  ASSERT_TRUE(heads[0].client_cert);
  // The leaf's fingerprint (the first certificate of the chain file).
  EXPECT_EQ(heads[0].client_cert->fingerprint, CliFingerprint(pki.chained_client_cert));
  EXPECT_EQ(heads[0].client_cert->subject, TestPki::kClientSubject);
}

TEST(ServerMtlsTest, NoCertificateAllowedWhenNotRequired) {
  TestServer ts(MtlsFiles(/*require=*/false));
  auto r = GetEcho(ts.client_options());
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].client_cert, nullptr);
  // The server still asked, naming the client CA (and only it).
  RawTlsClient raw(ts.port());
  ASSERT_TRUE(raw.handshake_ok()) << raw.handshake_error();
  EXPECT_EQ(RequestedCaNames(raw), std::vector<std::string>{"/CN=client-ca"});
}

TEST(ServerMtlsTest, NoCertificateRefusedWhenRequired) {
  TestServer ts(MtlsFiles(/*require=*/true));
  ExpectRefused(ts, ts.client_options(), "TLS 1.3 without certificate");
  RawTlsClient tls12(ts.port(), TLS1_2_VERSION);
  EXPECT_FALSE(tls12.handshake_ok());
  EXPECT_TRUE(ts.dispatcher.heads().empty());
}

TEST(ServerMtlsTest, ForeignCaRefusedWithOrWithoutRequire) {
  const TestPki& pki = TestPki::Get();
  for (const bool require : {false, true}) {
    TestServer ts(MtlsFiles(require));
    const std::string what = require ? "required" : "optional";
    ExpectRefused(ts, WithCert(ts.client_options(), pki.foreign_client_cert, pki.foreign_client_key), what);
    RawTlsClient tls12(ts.port(), RawTlsOptions{TLS1_2_VERSION, pki.foreign_client_cert, pki.foreign_client_key});
    EXPECT_FALSE(tls12.handshake_ok()) << what;
    // A certificate for the server's own CA is no client credential either.
    ExpectRefused(ts, WithCert(ts.client_options(), pki.server_cert, pki.server_key), what + ", server CA");
  }
}

TEST(ServerMtlsTest, ExpiredCertificateRefused) {
  const TestPki& pki = TestPki::Get();
  TestServer ts(MtlsFiles(/*require=*/false));
  ExpectRefused(ts, WithCert(ts.client_options(), pki.expired_client_cert, pki.expired_client_key), "expired");
  RawTlsClient tls12(ts.port(), RawTlsOptions{TLS1_2_VERSION, pki.expired_client_cert, pki.expired_client_key});
  EXPECT_FALSE(tls12.handshake_ok());
  EXPECT_TRUE(ts.dispatcher.heads().empty());
}

TEST(ServerMtlsTest, CertificateWithoutClientAuthUsageRefused) {
  const TestPki& pki = TestPki::Get();
  TestServer ts(MtlsFiles(/*require=*/false));
  ExpectRefused(ts, WithCert(ts.client_options(), pki.server_auth_client_cert, pki.server_auth_client_key),
                "serverAuth only");
}

TEST(ServerMtlsTest, WithoutClientCaNoCertificateIsRequested) {
  const TestPki& pki = TestPki::Get();
  TestServer ts;
  auto r = GetEcho(WithCert(ts.client_options(), pki.client_cert, pki.client_key));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].client_cert, nullptr);
  RawTlsClient raw(ts.port(), RawTlsOptions{0, pki.client_cert, pki.client_key});
  ASSERT_TRUE(raw.handshake_ok()) << raw.handshake_error();
  EXPECT_TRUE(RequestedCaNames(raw).empty());
  ASSERT_TRUE(raw.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_NE(raw.ReadResponse().find("200 OK"), std::string::npos);
  ASSERT_EQ(ts.dispatcher.heads().size(), 2u);
  EXPECT_EQ(ts.dispatcher.heads()[1].client_cert, nullptr);
}

TEST(ServerMtlsTest, BadClientCaFailsAddListenerAndCheck) {
  const TestPki& pki = TestPki::Get();
  const auto garbage = pki.dir / "not-pem.crt";
  std::ofstream(garbage) << "this is not a certificate\n";
  struct Case {
    std::filesystem::path ca;
    std::string expect;
  };
  for (const Case& c : {Case{pki.dir / "missing-ca.pem", "missing-ca.pem"}, Case{garbage, "not-pem.crt"},
                        Case{pki.client_key, "client.key"}}) {
    TlsFiles tls{pki.server_cert, pki.server_key};
    tls.client_ca = c.ca;
    TestDispatcher dispatcher;
    HttpsServer server(ServerOptions{1, 1, std::chrono::seconds(1)});
    const Status s = server.AddListener(ListenerKind::kData, "127.0.0.1:0", tls, TestLimits(), &dispatcher);
    EXPECT_STATUS_IS(s, StatusCode::kInvalidArgument) << c.ca;
    EXPECT_NE(s.message().find("client CA"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
    EXPECT_EQ(server.BoundPort(ListenerKind::kData), 0);
    const Status checked = CheckTlsFiles(tls);
    EXPECT_FALSE(checked.ok());
    EXPECT_NE(checked.message().find(c.expect), std::string::npos) << checked.message();
  }
  TlsFiles require_without_ca{pki.server_cert, pki.server_key};
  require_without_ca.require_client_cert = true;
  EXPECT_STATUS_IS(CheckTlsFiles(require_without_ca), StatusCode::kInvalidArgument);
  EXPECT_OK(CheckTlsFiles(MtlsFiles(true)));
}

TEST(ServerMtlsTest, ClientIdentityOptionsChecked) {
  TestServer ts(MtlsFiles(/*require=*/false));
  const TestPki& pki = TestPki::Get();
  ClientOptions options = ts.client_options();
  options.client_cert = pki.client_cert;
  auto c = HttpsClient::Connect(options);
  ASSERT_FALSE(c.ok());
  EXPECT_STATUS_IS(c, StatusCode::kInvalidArgument) << c.status().message();
  options.client_cert.reset();
  options.client_key = pki.client_key;
  EXPECT_STATUS_IS(HttpsClient::Connect(options), StatusCode::kInvalidArgument);

  c = HttpsClient::Connect(WithCert(ts.client_options(), pki.dir / "no-cert.pem", pki.client_key));
  ASSERT_FALSE(c.ok());
  EXPECT_STATUS_IS(c, StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("no-cert.pem"), std::string::npos) << c.status().message();
  c = HttpsClient::Connect(WithCert(ts.client_options(), pki.client_cert, pki.dir / "no-key.pem"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no-key.pem"), std::string::npos) << c.status().message();
  c = HttpsClient::Connect(WithCert(ts.client_options(), pki.client_cert, pki.foreign_client_key));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("does not match"), std::string::npos) << c.status().message();
  EXPECT_TRUE(ts.dispatcher.heads().empty());
}

TEST(ServerMtlsTest, KeepAliveRequestsShareTheCertificate) {
  TestServer ts(MtlsFiles(/*require=*/true));
  const TestPki& pki = TestPki::Get();
  auto client = HttpsClient::Connect(WithCert(ts.client_options(), pki.client_cert, pki.client_key));
  ASSERT_OK(client);
  for (int i = 0; i < 2; ++i) {
    auto r = (*client)->Request("GET", "/echo");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 200);
  }
  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].remote_address, heads[1].remote_address);  // one connection
  ASSERT_TRUE(heads[0].client_cert);
  EXPECT_EQ(heads[0].client_cert, heads[1].client_cert);  // described once per connection
  EXPECT_EQ(ts.server.Stats(ListenerKind::kData).connections_accepted, 1u);
}

// A resumed session skips the certificate exchange; the certificate verified in
// the full handshake must still reach the dispatcher (and no session may turn
// an anonymous connection into an authenticated one).
TEST(ServerMtlsTest, ResumedSessionKeepsTheCertificate) {
  const TestPki& pki = TestPki::Get();
  TestServer ts(MtlsFiles(/*require=*/false));
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    for (const bool with_cert : {true, false}) {
      RawTlsOptions options{version};
      if (with_cert) {
        options.client_cert = pki.client_cert;
        options.client_key = pki.client_key;
      }
      SSL_SESSION* session = nullptr;
      {
        RawTlsClient first(ts.port(), options);
        ASSERT_TRUE(first.handshake_ok()) << first.handshake_error();
        // TLS 1.3 tickets arrive after the handshake: read a response first.
        ASSERT_TRUE(first.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
        ASSERT_NE(first.ReadResponse().find("200 OK"), std::string::npos);
        session = SSL_get1_session(first.native_handle());
        ASSERT_NE(session, nullptr);
        // Freeing a connection that was never shut down marks its session
        // unresumable; a real client says goodbye first.
        SSL_set_shutdown(first.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      }
      options.resume = session;
      RawTlsClient second(ts.port(), options);
      ASSERT_TRUE(second.handshake_ok()) << second.handshake_error();
      EXPECT_TRUE(SSL_session_reused(second.native_handle())) << version << " " << with_cert;
      ASSERT_TRUE(second.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
      EXPECT_NE(second.ReadResponse().find("200 OK"), std::string::npos);
      SSL_SESSION_free(session);
      const auto heads = ts.dispatcher.heads();
      ASSERT_GE(heads.size(), 2u);
      const auto& resumed = heads.back();
      if (with_cert) {
        ASSERT_TRUE(resumed.client_cert) << version;
        EXPECT_EQ(resumed.client_cert->fingerprint, CliFingerprint(pki.client_cert));
        EXPECT_EQ(resumed.client_cert->subject, TestPki::kClientSubject);
      } else {
        EXPECT_EQ(resumed.client_cert, nullptr) << version;
      }
    }
  }
}

// A resumed session is not verified again; a certificate that expired since
// the full handshake must not keep authenticating new connections.
TEST(ServerMtlsTest, ResumptionRefusedOnceTheCertificateExpired) {
  const ShortLivedCert short_lived = IssueShortLivedClientCert(2);
  const auto expires = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  TestServer ts(MtlsFiles(/*require=*/false));
  std::vector<std::pair<int, SSL_SESSION*>> sessions;
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    RawTlsClient first(ts.port(), RawTlsOptions{version, short_lived.cert, short_lived.key});
    ASSERT_TRUE(first.handshake_ok()) << first.handshake_error();
    ASSERT_TRUE(first.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_NE(first.ReadResponse().find("200 OK"), std::string::npos);
    sessions.emplace_back(version, SSL_get1_session(first.native_handle()));
    SSL_set_shutdown(first.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
  const size_t served = ts.dispatcher.heads().size();
  ASSERT_EQ(served, 2u);
  ASSERT_TRUE(ts.dispatcher.heads()[0].client_cert);
  std::this_thread::sleep_until(expires + std::chrono::milliseconds(1500));
  for (const auto& [version, session] : sessions) {
    RawTlsClient resumed(ts.port(), RawTlsOptions{version, short_lived.cert, short_lived.key, session});
    if (resumed.handshake_ok()) {
      EXPECT_TRUE(SSL_session_reused(resumed.native_handle())) << version;
      resumed.Write("GET /echo HTTP/1.1\r\nHost: h\r\n\r\n");
      EXPECT_EQ(resumed.ReadResponse(), "") << version;
    }
    SSL_SESSION_free(session);
  }
  EXPECT_EQ(ts.dispatcher.heads().size(), served);
  // A full handshake refuses it, of course.
  RawTlsClient fresh(ts.port(), RawTlsOptions{TLS1_2_VERSION, short_lived.cert, short_lived.key});
  EXPECT_FALSE(fresh.handshake_ok());
}

// The same server as seen by curl (OpenSSL-based on Debian). scripts/setup.sh
// installs curl, so its absence is a broken setup: a failure, not a skip.
TEST(ServerMtlsTest, CurlWithAndWithoutCertificate) {
  ASSERT_EQ(std::system("command -v curl >/dev/null 2>&1"), 0) << "curl not found: scripts/setup.sh installs it";
  const TestPki& pki = TestPki::Get();
  TestServer ts(MtlsFiles(/*require=*/true));
  const std::string base = "curl -sS --noproxy '*' --max-time 10 --cacert '" + pki.ca_cert.string() + "' ";
  const std::string with_cert = Output(base + "--cert '" + pki.client_cert.string() + "' --key '" +
                                       pki.client_key.string() + "' " + ts.url() + "/echo 2>&1");
  EXPECT_NE(with_cert.find("method=GET path=/echo"), std::string::npos) << with_cert;
  const std::string without = Output(base + ts.url() + "/echo 2>&1; echo \" exit=$?\"");
  EXPECT_EQ(without.find("method=GET"), std::string::npos) << without;
  EXPECT_EQ(without.find(" exit=0"), std::string::npos) << without;
  const auto heads = ts.dispatcher.heads();
  ASSERT_EQ(heads.size(), 1u);
  ASSERT_TRUE(heads[0].client_cert);
  EXPECT_EQ(heads[0].client_cert->fingerprint, CliFingerprint(pki.client_cert));
}

}  // namespace
}  // namespace aegis::http::testing
