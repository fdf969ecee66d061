#include "aegis/crypto/kdf.h"

#include <vector>

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"
#include "common/testing/status_matchers.h"

namespace aegis::crypto {
namespace {

// Small parameters keep the test fast; the defaults are exercised by the keys tests.
constexpr Argon2idParams kFast{.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};

TEST(KdfTest, DeterministicAndSensitiveToInputs) {
  const std::string salt(16, 's');
  auto a = DeriveKeyArgon2id("passphrase", AsBytes(salt), kFast, 32);
  auto b = DeriveKeyArgon2id("passphrase", AsBytes(salt), kFast, 32);
  auto c = DeriveKeyArgon2id("passphrasf", AsBytes(salt), kFast, 32);
  auto d = DeriveKeyArgon2id("passphrase", AsBytes(std::string(16, 't')), kFast, 32);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(a->view(), b->view());
  EXPECT_NE(a->view(), c->view());
  EXPECT_NE(a->view(), d->view());
}

// RFC 9106 §5.3, the Argon2id test vector: password 32 × 0x01, salt 16 × 0x02,
// secret 8 × 0x03, associated data 12 × 0x04, 32 KiB, 3 passes, 4 lanes, v1.3.
TEST(KdfTest, Rfc9106Argon2idTestVector) {
  const std::vector<uint8_t> password(32, 0x01), salt(16, 0x02), secret(8, 0x03), ad(12, 0x04);
  const std::string_view passphrase(reinterpret_cast<const char*>(password.data()), password.size());
  auto tag = DeriveKeyArgon2id(passphrase, salt, {.t_cost = 3, .m_cost_kib = 32, .parallelism = 4}, 32,
                               {.secret = secret, .associated_data = ad});
  ASSERT_TRUE(tag.ok()) << tag.status().message();
  EXPECT_EQ(HexEncode(AsBytes(tag->view())), "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
  // The same inputs without K and X give another tag: both are really used.
  auto plain = DeriveKeyArgon2id(passphrase, salt, {.t_cost = 3, .m_cost_kib = 32, .parallelism = 4}, 32);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->view(), tag->view());
}

// The path the sealed KEK uses (no K, no X), against a tag from the reference
// `argon2` command (Debian package argon2, 0~20171227), computed when this test
// was written: echo -n 'correct horse battery staple' | argon2 aegis-kat-salt16 -id -t 3 -k 64 -p 2 -l 32
TEST(KdfTest, MatchesTheReferenceArgon2Command) {
  auto tag = DeriveKeyArgon2id("correct horse battery staple", AsBytes(std::string_view("aegis-kat-salt16")),
                               {.t_cost = 3, .m_cost_kib = 64, .parallelism = 2}, 32);
  ASSERT_TRUE(tag.ok()) << tag.status().message();
  EXPECT_EQ(HexEncode(AsBytes(tag->view())), "32236a6f59ec5f2648c58ff9a0afcdfaf1d33a7e0642a826c29bd2b0a7da64fb");
}

TEST(KdfTest, RejectsShortSaltAndBadParams) {
  EXPECT_STATUS_IS(DeriveKeyArgon2id("p", AsBytes("short-salt"), kFast, 32), StatusCode::kInvalidArgument);
  const std::string salt(16, 's');
  EXPECT_FALSE(DeriveKeyArgon2id("p", AsBytes(salt), {0, 1024, 1}, 32).ok());
  EXPECT_FALSE(DeriveKeyArgon2id("p", AsBytes(salt), {1, 1u << 30, 1}, 32).ok());
  EXPECT_FALSE(DeriveKeyArgon2id("p", AsBytes(salt), kFast, 0).ok());
}

}  // namespace
}  // namespace aegis::crypto
