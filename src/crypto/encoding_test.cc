#include "aegis/crypto/encoding.h"

#include <gtest/gtest.h>

#include "aegis/crypto/random.h"
#include "common/testing/status_matchers.h"

namespace aegis::crypto {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(EncodingTest, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    EXPECT_EQ(Base64Decode(encoded), Bytes(plain));
    std::string url(encoded);
    url.erase(url.find_last_not_of('=') + 1);
    EXPECT_EQ(Base64UrlEncode(AsBytes(plain)), url);
    EXPECT_EQ(Base64UrlDecode(url), Bytes(plain));
  }
  EXPECT_EQ(HexEncode(AsBytes(std::string_view("\x00\xff\x10", 3))), "00ff10");
  EXPECT_EQ(HexDecode("00FF10"), Bytes(std::string_view("\x00\xff\x10", 3)));
}

TEST(EncodingTest, UrlAlphabetDiffers) {
  const uint8_t bytes[] = {0xfb, 0xff};
  EXPECT_EQ(Base64Encode(bytes), "+/8=");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_8");
  EXPECT_FALSE(Base64Decode("-_8="));
  EXPECT_FALSE(Base64UrlDecode("+/8"));
}

TEST(EncodingTest, DecodersAreStrict) {
  for (const char* bad :
       {"Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v\n", " Zm9v", "Zm9v=", "Zh==", "Zm9=", "Zg==Zg==", "Zm8=Zm8="}) {
    EXPECT_FALSE(Base64Decode(bad)) << bad;
  }
  for (const char* bad : {"Zg==", "Z", "Zh", "Zm9", "Zm 9", "Zm9v."}) {
    EXPECT_FALSE(Base64UrlDecode(bad)) << bad;
  }
  for (const char* bad : {"0", "0g", "zz", "00 ", "-1"}) EXPECT_FALSE(HexDecode(bad)) << bad;
}

TEST(EncodingTest, RandomRoundTrips) {
  for (size_t n = 0; n < 70; ++n) {
    std::vector<uint8_t> bytes(n);
    ASSERT_OK(RandomBytes(bytes));
    EXPECT_EQ(HexDecode(HexEncode(bytes)), bytes);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
  }
  auto hex = RandomHex(16);
  ASSERT_OK(hex);
  EXPECT_EQ(hex->size(), 32u);
  auto b64 = RandomBase64Url(32);
  ASSERT_OK(b64);
  EXPECT_EQ(b64->size(), 43u);
  EXPECT_NE(*RandomHex(16), *RandomHex(16));
}

}  // namespace
}  // namespace aegis::crypto
