#include "aegis/http/trusted_proxies.h"

#include <gtest/gtest.h>

namespace aegis::http {
namespace {

TrustedProxies Proxies(const std::vector<std::string>& cidrs) {
  auto parsed = TrustedProxies::Parse(cidrs);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return parsed.ok() ? std::move(parsed).value() : TrustedProxies{};
}

TEST(TrustedProxiesTest, ParsesBlocksAndRefusesTypos) {
  const TrustedProxies p = Proxies({"10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1"});
  EXPECT_TRUE(p.Contains("10.200.1.2"));
  EXPECT_TRUE(p.Contains("192.0.2.7"));
  EXPECT_FALSE(p.Contains("192.0.2.8"));
  EXPECT_TRUE(p.Contains("fd12::3"));
  EXPECT_TRUE(p.Contains("::1"));
  EXPECT_TRUE(p.Contains("::ffff:10.0.0.1")) << "an IPv4 peer on a dual-stack listener";
  EXPECT_FALSE(p.Contains("11.0.0.1"));
  EXPECT_FALSE(p.Contains("not an ip"));
  EXPECT_TRUE(Proxies({"0.0.0.0/0"}).Contains("203.0.113.9"));
  EXPECT_FALSE(Proxies({"0.0.0.0/0"}).Contains("2001:db8::1")) << "an IPv4 block holds no IPv6 address";
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "fd00::/129", "example.com",
                          "10.0.0.0/8 ", "", "10.0.0.0/-1"}) {
    auto parsed = TrustedProxies::Parse({bad});
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

TEST(TrustedProxiesTest, TheRightmostUntrustedForwardedAddressIsTheClient) {
  const TrustedProxies p = Proxies({"10.0.0.0/8"});
  EXPECT_EQ(p.ClientAddress("10.0.0.2", "203.0.113.9"), "203.0.113.9");
  // A client cannot choose its address by sending the header itself: the
  // proxy appends the real one, which is what is read.
  EXPECT_EQ(p.ClientAddress("10.0.0.2", "1.2.3.4, 203.0.113.9"), "203.0.113.9");
  // Proxies in a chain are skipped.
  EXPECT_EQ(p.ClientAddress("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.1.1.1, 10.2.2.2"), "203.0.113.9");
  EXPECT_EQ(p.ClientAddress("10.0.0.2", " 2001:DB8::1 "), "2001:db8::1") << "canonical form";
  EXPECT_EQ(p.ClientAddress("10.0.0.2", "10.9.9.9"), "10.9.9.9") << "every hop trusted: the leftmost";
}

TEST(TrustedProxiesTest, UntrustedPeersAndBadHeadersFallBackToThePeer) {
  const TrustedProxies p = Proxies({"10.0.0.0/8"});
  EXPECT_EQ(p.ClientAddress("198.51.100.1", "203.0.113.9"), "198.51.100.1") << "the peer is no trusted proxy";
  EXPECT_EQ(Proxies({}).ClientAddress("10.0.0.2", "203.0.113.9"), "10.0.0.2") << "none configured";
  for (const std::string& header :
       std::vector<std::string>{"", "garbage", "203.0.113.9, garbage", "203.0.113.9,", "203.0.113.9:443",
                                "[2001:db8::1]", "unknown", std::string(5000, '1')}) {
    EXPECT_EQ(p.ClientAddress("10.0.0.2", header), "10.0.0.2") << header.substr(0, 40);
  }
  std::string chain = "203.0.113.9";
  for (size_t i = 0; i < TrustedProxies::kMaxHops + 1; ++i) chain += ", 10.0.0." + std::to_string(i + 1);
  EXPECT_EQ(p.ClientAddress("10.0.0.2", chain), "10.0.0.2") << "more proxies than kMaxHops";
  EXPECT_EQ(p.ClientAddress("::ffff:10.0.0.2", "203.0.113.9"), "203.0.113.9");
}

}  // namespace
}  // namespace aegis::http
