#include "aegis/auth/token_authenticator.h"

#include <filesystem>
#include <unistd.h>

#include "aegis/crypto/hash.h"

#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"

namespace aegis::auth {
namespace {

class TokenAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::MetadataStore::Open(dir_ / "aegis.db")).value();
    auth_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();
  }
  testing::ScopedTempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
  FakeClock clock_{std::chrono::system_clock::now()};
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<TokenAuthenticator> auth_;
};

TEST_F(TokenAuthenticatorTest, IssuedTokenAuthenticates) {
  auto issued = auth_->Issue("admin", "admin");
  ASSERT_TRUE(issued.ok()) << issued.status().message();
  auto p = auth_->Authenticate("Bearer " + issued->token);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "admin");
  EXPECT_EQ(p->role, "admin");
  EXPECT_EQ(p->token_id, issued->record.id);
  // The scheme is case-insensitive.
  EXPECT_TRUE(auth_->Authenticate("bearer " + issued->token).ok());
}

TEST_F(TokenAuthenticatorTest, TokenHas256BitSecretAndIsStoredOnlyAsHash) {
  auto issued = auth_->Issue("svc", "admin");
  ASSERT_TRUE(issued.ok());
  const std::string& token = issued->token;
  ASSERT_EQ(token.rfind("aegis_", 0), 0u);
  // "aegis_" + 16 hex id + "_" + secret; the secret's alphabet itself contains '_'.
  ASSERT_EQ(token[6 + 16], '_');
  const std::string secret = token.substr(6 + 16 + 1);
  EXPECT_EQ(secret.size(), 43u);  // 32 bytes, base64url
  auto stored = store_->GetToken(issued->record.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->secret_hash.size(), 32u);
  const std::string hash(stored->secret_hash.begin(), stored->secret_hash.end());
  EXPECT_EQ(hash.find(secret), std::string::npos);
  // Two tokens never collide.
  auto other = auth_->Issue("svc2", "admin");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->token, token);
}

TEST_F(TokenAuthenticatorTest, RejectsMissingMalformedAndWrongTokens) {
  auto issued = auth_->Issue("admin", "admin");
  ASSERT_TRUE(issued.ok());
  std::string wrong_secret = issued->token;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  std::string wrong_id = issued->token;
  wrong_id[6] = wrong_id[6] == '0' ? '1' : '0';
  const std::vector<std::optional<std::string>> bad = {
      std::nullopt, "", "Bearer", "Bearer ", "Basic " + issued->token, issued->token, "Bearer " + wrong_secret,
      "Bearer " + wrong_id, "Bearer " + issued->token + "x", "Bearer " + issued->token.substr(1),
      "Bearer aegis_zzzzzzzzzzzzzzzz_" + std::string(43, 'a')};
  for (const auto& header : bad) {
    std::optional<std::string_view> view;
    if (header) view = *header;
    auto p = auth_->Authenticate(view);
    EXPECT_FALSE(p.ok()) << (header ? *header : "<none>");
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
    }
  }
}

TEST_F(TokenAuthenticatorTest, ExpiredAndRevokedTokensAreRefused) {
  store::TokenRecord expiring;
  expiring.id = "00112233445566aa";
  expiring.name = "short-lived";
  expiring.role = "admin";
  const std::string secret(43, 'Q');
  auto digest = crypto::Sha256(secret);
  expiring.secret_hash.assign(digest.begin(), digest.end());
  expiring.created_at = FormatRfc3339(clock_.Now());
  expiring.expires_at = FormatRfc3339(clock_.Now() + std::chrono::minutes(5));
  ASSERT_TRUE(store_->InsertToken(expiring).ok());
  store::TokenRecord revoked = expiring;
  revoked.id = "00112233445566bb";
  revoked.expires_at.reset();
  revoked.revoked = true;
  ASSERT_TRUE(store_->InsertToken(revoked).ok());
  auth_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();

  const std::string expiring_token = "aegis_" + expiring.id + "_" + secret;
  EXPECT_TRUE(auth_->Authenticate("Bearer " + expiring_token).ok());
  clock_.Advance(std::chrono::minutes(6));
  auto late = auth_->Authenticate("Bearer " + expiring_token);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().message(), "token expired");
  auto r = auth_->Authenticate("Bearer aegis_" + revoked.id + "_" + secret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "token revoked");
}

TEST_F(TokenAuthenticatorTest, TokensSurviveReopen) {
  auto issued = auth_->Issue("admin", "admin");
  ASSERT_TRUE(issued.ok());
  auth_.reset();
  store_.reset();
  store_ = std::move(store::MetadataStore::Open(dir_ / "aegis.db")).value();
  auth_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();
  EXPECT_TRUE(auth_->Authenticate("Bearer " + issued->token).ok());
}

}  // namespace
}  // namespace aegis::auth
