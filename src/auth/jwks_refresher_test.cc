// JwksRefresher: rotated keys are picked up every interval; a failed fetch or a
// refused JWKS keeps the keys the verifier had; Stop does not wait an interval.
#include "aegis/auth/jwks_refresher.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "aegis/auth/jwt.h"
#include "auth/testing/jwt_test_keys.h"
#include "common/testing/wait_for.h"

namespace aegis::auth {
namespace {

using namespace std::chrono_literals;
using ::aegis::testing::WaitFor;
using testing::Json;
using testing::JwksOf;
using testing::KeyKind;
using testing::SignedToken;
using testing::TestKey;

const auto kNow = std::chrono::system_clock::from_time_t(1'700'000'000);

class JwksRefresherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    old_key_ = new TestKey(TestKey::Generate(KeyKind::kEc, "old"));
    new_key_ = new TestKey(TestKey::Generate(KeyKind::kEc, "new"));
  }
  static void TearDownTestSuite() {
    delete old_key_;
    delete new_key_;
  }

  void SetUp() override {
    JwtConfig config;
    config.issuer = "https://idp.example";
    config.audience = "aegis";
    auto created = JwtVerifier::Create(config, JwksOf({old_key_->Jwk()}));
    ASSERT_TRUE(created.ok()) << created.status().message();
    verifier_ = std::move(*created);
  }

  static std::string Token(const TestKey& key) {
    const Json claims = {{"iss", "https://idp.example"}, {"aud", "aegis"}, {"sub", "s"}, {"exp", 1'700'000'300}};
    return SignedToken(key, Json{{"alg", key.alg()}, {"kid", key.kid()}}.dump(), claims.dump());
  }
  bool Accepts(const TestKey& key) const { return verifier_->Verify(Token(key), kNow).ok(); }

  static inline TestKey* old_key_ = nullptr;
  static inline TestKey* new_key_ = nullptr;
  std::unique_ptr<JwtVerifier> verifier_;
};

TEST_F(JwksRefresherTest, PicksUpRotatedKeysEveryInterval) {
  std::atomic<int> fetches{0};
  JwksRefresher refresher(
      *verifier_,
      [&]() -> StatusOr<std::string> {
        ++fetches;
        return JwksOf({new_key_->Jwk()});
      },
      5ms);
  EXPECT_TRUE(WaitFor([&] { return Accepts(*new_key_); }));
  EXPECT_FALSE(Accepts(*old_key_));                           // rotated out
  EXPECT_TRUE(WaitFor([&] { return fetches.load() >= 3; }));  // and it keeps refreshing
}

TEST_F(JwksRefresherTest, AFailedFetchKeepsThePreviousKeys) {
  std::atomic<int> fetches{0};
  JwksRefresher refresher(
      *verifier_,
      [&]() -> StatusOr<std::string> {
        ++fetches;
        return Status::Unavailable("fetching auth.jwt.jwks_url: HTTP 503");
      },
      5ms);
  ASSERT_TRUE(WaitFor([&] { return fetches.load() >= 3; }));
  refresher.Stop();
  EXPECT_TRUE(Accepts(*old_key_));
}

TEST_F(JwksRefresherTest, ARefusedJwksKeepsThePreviousKeys) {
  std::atomic<int> fetches{0};
  const auto weak = TestKey::Generate(KeyKind::kRsa, "weak", 1024);
  JwksRefresher refresher(
      *verifier_,
      [&]() -> StatusOr<std::string> {
        // Alternately not JSON and a set the verifier refuses (RSA under 2048 bits).
        return ++fetches % 2 == 0 ? std::string("not json") : JwksOf({weak.Jwk()});
      },
      5ms);
  ASSERT_TRUE(WaitFor([&] { return fetches.load() >= 4; }));
  refresher.Stop();
  EXPECT_TRUE(Accepts(*old_key_));
}

TEST_F(JwksRefresherTest, StopsAtOnceWithoutFetching) {
  std::atomic<int> fetches{0};
  const auto start = std::chrono::steady_clock::now();
  {
    JwksRefresher refresher(*verifier_, [&]() -> StatusOr<std::string> {
      ++fetches;
      return JwksOf({new_key_->Jwk()});
    });  // the default interval: five minutes
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(fetches.load(), 0);  // the keys loaded at start are fresh
  EXPECT_TRUE(Accepts(*old_key_));
}

}  // namespace
}  // namespace aegis::auth
