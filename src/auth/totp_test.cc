#include "aegis/auth/totp.h"

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"

namespace aegis::auth {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

const std::string kRfcSecret = "12345678901234567890";  // RFC 6238 Appendix B, SHA-1

std::span<const uint8_t> Secret() { return crypto::AsBytes(kRfcSecret); }
system_clock::time_point At(int64_t unix_seconds) { return system_clock::time_point(seconds(unix_seconds)); }

// The last six digits of RFC 6238's eight-digit SHA-1 column (T=2000000000 is 69279037).
TEST(TotpTest, Rfc6238Sha1Vectors) {
  const std::pair<int64_t, const char*> vectors[] = {
      {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
      {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
  };
  for (const auto& [t, code] : vectors) {
    EXPECT_EQ(TotpCode(Secret(), t / kTotpStepSeconds), code) << "T=" << t;
    // T=20000000000 (year 2603) is past system_clock's range (nanoseconds, to 2262).
    if (t > 10000000000) continue;
    EXPECT_EQ(TotpStep(At(t)), t / kTotpStepSeconds);
    auto step = MatchTotp(Secret(), code, At(t));
    ASSERT_TRUE(step.has_value()) << "T=" << t;
    EXPECT_EQ(*step, t / 30);
  }
}

TEST(TotpTest, StepBoundaries) {
  EXPECT_EQ(TotpStep(At(0)), 0);
  EXPECT_EQ(TotpStep(At(29)), 0);
  EXPECT_EQ(TotpStep(At(30)), 1);
  EXPECT_EQ(TotpStep(At(59) + std::chrono::milliseconds(999)), 1);
  EXPECT_EQ(TotpStep(At(-1)), -1);
}

TEST(TotpTest, Rfc4648Base32Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  const char* padded[] = {"", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
  for (size_t i = 0; i < std::size(vectors); ++i) {
    const auto& [plain, encoded] = vectors[i];
    EXPECT_EQ(Base32Encode(crypto::AsBytes(plain)), encoded);
    EXPECT_EQ(Base32Decode(encoded), plain) << encoded;
    EXPECT_EQ(Base32Decode(padded[i]), plain) << padded[i];
    std::string lower = encoded;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(Base32Decode(lower), plain) << lower;
  }
  EXPECT_EQ(Base32Encode(Secret()), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(TotpTest, Base32RefusesMalformedText) {
  for (const char* bad :
       {"M", "MZX", "MZXW6Y", "MY=", "MY=====", "MY======A", "M1", "MZ XQ", "MZ=Q====", "========", "MZ", "MZXR"}) {
    EXPECT_FALSE(Base32Decode(bad).has_value()) << bad;
  }
}

TEST(TotpTest, AcceptsOneStepEitherSide) {
  const auto now = At(1111111111);
  const int64_t step = TotpStep(now);
  EXPECT_EQ(MatchTotp(Secret(), TotpCode(Secret(), step - 1), now), step - 1);
  EXPECT_EQ(MatchTotp(Secret(), TotpCode(Secret(), step + 1), now), step + 1);
  EXPECT_EQ(MatchTotp(Secret(), TotpCode(Secret(), step), now), step);
  EXPECT_FALSE(MatchTotp(Secret(), TotpCode(Secret(), step - 2), now).has_value());
  EXPECT_FALSE(MatchTotp(Secret(), TotpCode(Secret(), step + 2), now).has_value());
  const std::string other_secret = "12345678901234567891";
  EXPECT_FALSE(MatchTotp(crypto::AsBytes(other_secret), TotpCode(Secret(), step), now).has_value());
}

TEST(TotpTest, RefusesCodesThatAreNotSixDigits) {
  const auto now = At(59);  // the code is 287082
  for (const char* bad :
       {"", "28708", "2870820", " 287082", "287082 ", "28708a", "２87082", "+87082", "-87082", "0287082"}) {
    EXPECT_FALSE(MatchTotp(Secret(), bad, now).has_value()) << bad;
  }
  EXPECT_FALSE(MatchTotp(Secret(), std::string_view("287082\0", 7), now).has_value());
  EXPECT_TRUE(MatchTotp(Secret(), "287082", now).has_value());
}

TEST(TotpTest, EmptySecretNeverMatches) {
  EXPECT_EQ(TotpCode({}, 1), "");
  EXPECT_FALSE(MatchTotp({}, "000000", At(59)).has_value());
}

TEST(TotpTest, UriFormat) {
  EXPECT_EQ(TotpUri("alice", Secret()),
            "otpauth://totp/Aegis:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Aegis&algorithm=SHA1&digits=6"
            "&period=30");
  EXPECT_EQ(TotpUri("bob@example.com", crypto::AsBytes("f")),
            "otpauth://totp/Aegis:bob%40example.com?secret=MY&issuer=Aegis&algorithm=SHA1&digits=6&period=30");
  EXPECT_TRUE(TotpUri("a b:c?&=/", crypto::AsBytes("f")).starts_with("otpauth://totp/Aegis:a%20b%3Ac%3F%26%3D%2F?"));
  EXPECT_TRUE(TotpUri("j.d_x-1~", crypto::AsBytes("f")).starts_with("otpauth://totp/Aegis:j.d_x-1~?"));
}

}  // namespace
}  // namespace aegis::auth
