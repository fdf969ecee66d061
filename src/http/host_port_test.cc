#include "aegis/http/host_port.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace aegis::http::internal {
namespace {

TEST(HostPortTest, ParsesIpv4NamesAndIpv6) {
  auto a = ParseHostPort("127.0.0.1:8443");
  ASSERT_OK(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8443);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_OK(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = ParseHostPort("localhost:65535");
  ASSERT_OK(c);
  EXPECT_EQ(c->host, "localhost");
}

TEST(HostPortTest, RefusesMalformed) {
  for (const char* bad : {"", "8443", ":8443", "host:", "host:65536", "host:-1", "host:8a", "::1:8443", "[::1]8443",
                          "[::1", "[localhost]:1", "[]:1", "host:123456"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(HostPortTest, ParsesHttpsUrlsOnly) {
  auto a = ParseHttpsUrl("https://localhost:9443/");
  ASSERT_OK(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 9443);
  auto b = ParseHttpsUrl("https://[::1]:8443");
  ASSERT_OK(b);
  EXPECT_EQ(b->host, "::1");
  auto c = ParseHttpsUrl("https://example.com");
  ASSERT_OK(c);
  EXPECT_EQ(c->port, 443);
  for (const char* bad : {"http://localhost:8443", "localhost:8443", "https://h:1/path", "https://u@h:1", "https://h:0",
                          "ftp://h:1", "https://"}) {
    EXPECT_FALSE(ParseHttpsUrl(bad).ok()) << bad;
  }
}

TEST(HostPortTest, DnsNamesForCertificates) {
  for (const char* ok : {"localhost", "aegis.internal", "a-b.example.com", "x1", "xn--bcher-kva.example", "A.B"}) {
    EXPECT_TRUE(IsDnsName(ok)) << ok;
  }
  for (const char* bad : {"", ".", "a..b", "-a.com", "a-.com", "a.com.", "*.example.com", "a_b.com", "10.0.0.1", "a b",
                          "host:443", "https://x", "ex\xc3\xa4mple.com"}) {
    EXPECT_FALSE(IsDnsName(bad)) << bad;
  }
  EXPECT_TRUE(IsDnsName(std::string(63, 'a') + ".com"));
  EXPECT_FALSE(IsDnsName(std::string(64, 'a') + ".com"));
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  EXPECT_FALSE(IsDnsName(long_name + "com")) << "over 253 characters";
}

}  // namespace
}  // namespace aegis::http::internal
