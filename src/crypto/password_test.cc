#include "aegis/crypto/password.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace aegis::crypto {
namespace {

// Cheap parameters keep the suite fast; one test uses the defaults.
constexpr PasswordHashParams kFast{1, 64, 1};

TEST(PasswordTest, RoundTripWithDefaults) {
  auto hash = HashPassword("correct horse battery staple");
  ASSERT_OK(hash);
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse battery stapl"));
}

TEST(PasswordTest, WrongPasswordFails) {
  auto hash = HashPassword("s3cret-Pässwörd", kFast);
  ASSERT_OK(hash);
  EXPECT_TRUE(VerifyPassword(*hash, "s3cret-Pässwörd"));
  EXPECT_FALSE(VerifyPassword(*hash, "s3cret-Passwoerd"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword(*hash, std::string_view("s3cret-Pässwörd\0x", 19)));
}

TEST(PasswordTest, EmptyPasswordIsAllowedHere) {
  auto hash = HashPassword("", kFast);
  ASSERT_OK(hash);
  EXPECT_TRUE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword(*hash, " "));
}

TEST(PasswordTest, SamePasswordHashesDifferently) {
  auto a = HashPassword("password", kFast);
  auto b = HashPassword("password", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword(*a, "password"));
  EXPECT_TRUE(VerifyPassword(*b, "password"));
}

// Encoded hashes made outside Aegis: the reference implementation's own test
// strings (phc-winner-argon2 src/test.c, password "password", salt "somesalt"),
// reproduced with Debian's `argon2` command when this test was written:
//   echo -n password | argon2 somesalt -id -t 2 -k 256 -p 1 -e   (and -p 2)
TEST(PasswordTest, VerifiesHashesFromTheReferenceImplementation) {
  for (const char* encoded : {"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
                              "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}) {
    EXPECT_TRUE(VerifyPassword(encoded, "password")) << encoded;
    EXPECT_FALSE(VerifyPassword(encoded, "Password")) << encoded;
    EXPECT_FALSE(VerifyPassword(encoded, "password ")) << encoded;
  }
}

TEST(PasswordTest, TamperedHashFails) {
  auto hash = HashPassword("password", kFast);
  ASSERT_OK(hash);
  const size_t last_dollar = hash->rfind('$');
  std::string bad_hash = *hash;
  bad_hash[last_dollar + 3] = bad_hash[last_dollar + 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPassword(bad_hash, "password"));
  std::string bad_salt = *hash;
  bad_salt[last_dollar - 3] = bad_salt[last_dollar - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPassword(bad_salt, "password"));
  std::string other_cost = *hash;
  other_cost.replace(other_cost.find("t=1"), 3, "t=2");
  EXPECT_FALSE(VerifyPassword(other_cost, "password"));
  EXPECT_FALSE(VerifyPassword(hash->substr(0, hash->size() - 1), "password"));
  EXPECT_FALSE(VerifyPassword(*hash + "A", "password"));
}

TEST(PasswordTest, RefusesOtherEncodings) {
  auto hash = HashPassword("password", kFast);
  ASSERT_OK(hash);
  for (const char* type : {"argon2i", "argon2d"}) {
    std::string other = *hash;
    other.replace(1, 8, type);
    EXPECT_FALSE(VerifyPassword(other, "password")) << other;
  }
  EXPECT_FALSE(VerifyPassword("", "password"));
  EXPECT_FALSE(VerifyPassword("password", "password"));
  EXPECT_FALSE(VerifyPassword("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "password"));
  EXPECT_FALSE(VerifyPassword("$argon2id$", "password"));
  std::string old_version = *hash;
  old_version.replace(old_version.find("v=19"), 4, "v=16");
  EXPECT_FALSE(VerifyPassword(old_version, "password"));
  std::string nul = *hash;
  nul.insert(nul.size() - 2, 1, '\0');
  EXPECT_FALSE(VerifyPassword(nul, "password"));
}

TEST(PasswordTest, RefusesAbsurdCost) {
  // A doctored row must not make every login allocate gigabytes or spin for minutes.
  EXPECT_FALSE(
      VerifyPassword("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "password"));
  EXPECT_FALSE(
      VerifyPassword("$argon2id$v=19$m=64,t=100000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "password"));
  EXPECT_FALSE(HashPassword("x", PasswordHashParams{0, 64, 1}).ok());
  EXPECT_FALSE(HashPassword("x", PasswordHashParams{1, 4, 1}).ok());
}

}  // namespace
}  // namespace aegis::crypto
