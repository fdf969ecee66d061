#include "aegis/crypto/kdf.h"

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

TEST(KdfTest, RejectsShortSaltAndBadParams) {
  EXPECT_STATUS_IS(DeriveKeyArgon2id("p", AsBytes("short-salt"), kFast, 32), StatusCode::kInvalidArgument);
  const std::string salt(16, 's');
  EXPECT_FALSE(DeriveKeyArgon2id("p", AsBytes(salt), {0, 1024, 1}, 32).ok());
  EXPECT_FALSE(DeriveKeyArgon2id("p", AsBytes(salt), {1, 1u << 30, 1}, 32).ok());
  EXPECT_FALSE(DeriveKeyArgon2id("p", AsBytes(salt), kFast, 0).ok());
}

}  // namespace
}  // namespace aegis::crypto
