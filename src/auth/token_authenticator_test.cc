#include "aegis/auth/token_authenticator.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "aegis/crypto/hash.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::auth {
namespace {

TokenRequest Admin(const std::string& name) { return TokenRequest{name, "admin", "*", std::nullopt, "test"}; }

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
  auto issued = auth_->Issue(Admin("admin"));
  ASSERT_OK(issued);
  auto p = auth_->Authenticate(issued->token);
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "token:admin");
  EXPECT_EQ(p->method, Method::kToken);
  EXPECT_EQ(p->credential_id, issued->record.id);
  ASSERT_EQ(p->subject.grants.size(), 1u);
  EXPECT_EQ(p->subject.grants[0].Describe(), "admin:*");
  EXPECT_FALSE(p->subject.human);
  EXPECT_TRUE(TokenAuthenticator::IsApiToken(issued->token));
}

TEST_F(TokenAuthenticatorTest, TokenHas256BitSecretAndIsStoredOnlyAsHash) {
  auto issued = auth_->Issue(Admin("svc"));
  ASSERT_OK(issued);
  const std::string& token = issued->token;
  ASSERT_EQ(token.rfind("aegis_", 0), 0u);
  // "aegis_" + 16 hex id + "_" + secret; the secret's alphabet itself contains '_'.
  ASSERT_EQ(token[6 + 16], '_');
  const std::string secret = token.substr(6 + 16 + 1);
  EXPECT_EQ(secret.size(), 43u);  // 32 bytes, base64url
  auto stored = store_->GetToken(issued->record.id);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->secret_hash.size(), 32u);
  const std::string hash(stored->secret_hash.begin(), stored->secret_hash.end());
  EXPECT_EQ(hash.find(secret), std::string::npos);
  // Two tokens never collide.
  auto other = auth_->Issue(Admin("svc2"));
  ASSERT_OK(other);
  EXPECT_NE(other->token, token);
}

TEST_F(TokenAuthenticatorTest, RejectsMissingMalformedAndWrongTokens) {
  auto issued = auth_->Issue(Admin("admin"));
  ASSERT_OK(issued);
  std::string wrong_secret = issued->token;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  std::string wrong_id = issued->token;
  wrong_id[6] = wrong_id[6] == '0' ? '1' : '0';
  const std::vector<std::string> bad = {"",
                                        "Bearer " + issued->token,
                                        wrong_secret,
                                        wrong_id,
                                        issued->token + "x",
                                        issued->token.substr(1),
                                        "aegis_zzzzzzzzzzzzzzzz_" + std::string(43, 'a')};
  for (const auto& credential : bad) {
    auto p = auth_->Authenticate(credential);
    EXPECT_FALSE(p.ok()) << credential;
    if (!p.ok()) {
      EXPECT_STATUS_IS(p, StatusCode::kUnauthenticated);
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
  ASSERT_OK(store_->InsertToken(expiring));
  store::TokenRecord revoked = expiring;
  revoked.id = "00112233445566bb";
  revoked.expires_at.reset();
  revoked.revoked = true;
  ASSERT_OK(store_->InsertToken(revoked));
  auth_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();

  const std::string expiring_token = "aegis_" + expiring.id + "_" + secret;
  EXPECT_OK(auth_->Authenticate(expiring_token));
  clock_.Advance(std::chrono::minutes(6));
  auto late = auth_->Authenticate(expiring_token);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().message(), "token expired");
  auto r = auth_->Authenticate("aegis_" + revoked.id + "_" + secret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "token revoked");
}

TEST_F(TokenAuthenticatorTest, TokensSurviveReopen) {
  auto issued = auth_->Issue(Admin("admin"));
  ASSERT_OK(issued);
  auth_.reset();
  store_.reset();
  store_ = std::move(store::MetadataStore::Open(dir_ / "aegis.db")).value();
  auth_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();
  EXPECT_OK(auth_->Authenticate(issued->token));
}

// Another server sharing the store issued and revoked tokens: Reload sees
// both.
TEST_F(TokenAuthenticatorTest, ReloadSeesAnotherServersTokensAndRevocations) {
  auto other = TokenAuthenticator::Create(store_.get(), clock_);
  ASSERT_OK(other);
  auto issued = (*other)->Issue(Admin("elsewhere"));
  ASSERT_OK(issued);
  EXPECT_STATUS_IS(auth_->Authenticate(issued->token), StatusCode::kUnauthenticated);
  ASSERT_OK(auth_->Reload());
  EXPECT_OK(auth_->Authenticate(issued->token));
  ASSERT_EQ(auth_->List().size(), 1u);

  ASSERT_OK((*other)->Revoke(issued->record.id));
  EXPECT_OK(auth_->Authenticate(issued->token));  // not heard of yet
  ASSERT_OK(auth_->Reload());
  EXPECT_EQ(auth_->Authenticate(issued->token).status().message(), "token revoked");

  // Tokens issued here stay across a reload.
  auto mine = auth_->Issue(Admin("here"));
  ASSERT_OK(mine);
  ASSERT_OK(auth_->Reload());
  EXPECT_OK(auth_->Authenticate(mine->token));
  EXPECT_EQ(auth_->List().size(), 2u);
}

TEST(BearerCredentialTest, ExtractsTheCredentialOfTheBearerSchemeOnly) {
  EXPECT_EQ(BearerCredential("Bearer abc"), "abc");
  EXPECT_EQ(BearerCredential("bEaReR abc"), "abc");  // the scheme is case-insensitive
  EXPECT_FALSE(BearerCredential(std::nullopt));
  EXPECT_FALSE(BearerCredential(""));
  EXPECT_FALSE(BearerCredential("Bearer"));
  EXPECT_FALSE(BearerCredential("Bearer "));
  EXPECT_FALSE(BearerCredential("Basic abc"));
}

TEST_F(TokenAuthenticatorTest, ScopedTokensCarryTheirGrantAndExpiry) {
  auto issued = auth_->Issue(TokenRequest{"scorer", "consumer", "fraud-*", std::chrono::hours(2), "token:admin"});
  ASSERT_OK(issued);
  EXPECT_EQ(issued->record.models, "fraud-*");
  EXPECT_EQ(issued->record.created_by, "token:admin");
  ASSERT_TRUE(issued->record.expires_at);
  EXPECT_EQ(*issued->record.expires_at, FormatRfc3339(clock_.Now() + std::chrono::hours(2)));
  auto p = auth_->Authenticate(issued->token);
  ASSERT_OK(p);
  ASSERT_EQ(p->subject.grants.size(), 1u);
  EXPECT_EQ(p->subject.grants[0].Describe(), "consumer:fraud-*");
  clock_.Advance(std::chrono::hours(2));
  EXPECT_EQ(auth_->Authenticate(issued->token).status().message(), "token expired");
}

TEST_F(TokenAuthenticatorTest, RefusesBadRequests) {
  const std::vector<TokenRequest> bad = {
      {"", "admin", "*", std::nullopt, ""},
      {"has space", "admin", "*", std::nullopt, ""},
      {std::string(65, 'a'), "admin", "*", std::nullopt, ""},
      {"x", "root", "*", std::nullopt, ""},
      {"x", "Admin", "*", std::nullopt, ""},
      {"x", "admin", "fraud-*", std::nullopt, ""},    // admin is never scoped
      {"x", "auditor", "fraud-*", std::nullopt, ""},  // nor is auditor
      {"x", "consumer", "../x", std::nullopt, ""},
      {"x", "consumer", "", std::nullopt, ""},
      {"x", "consumer", "*", std::chrono::seconds(59), ""},
      {"x", "consumer", "*", std::chrono::seconds(-5), ""},
      {"x", "consumer", "*", kMaxTokenTtl + std::chrono::seconds(1), ""},
  };
  for (const auto& request : bad) {
    auto issued = auth_->Issue(request);
    EXPECT_STATUS_IS(issued, StatusCode::kInvalidArgument) << request.name << " " << request.role;
  }
  EXPECT_TRUE(auth_->List().empty());
}

TEST_F(TokenAuthenticatorTest, RevocationTakesEffectAtOnceAndSurvivesReopen) {
  auto a = auth_->Issue(Admin("a"));
  auto b = auth_->Issue(Admin("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_OK(auth_->Revoke(a->record.id));
  EXPECT_OK(auth_->Revoke(a->record.id));  // idempotent
  EXPECT_STATUS_IS(auth_->Revoke("0000000000000000"), StatusCode::kNotFound);
  EXPECT_EQ(auth_->Authenticate(a->token).status().message(), "token revoked");
  EXPECT_OK(auth_->Authenticate(b->token));
  auto listed = auth_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, a->record.id);
  EXPECT_TRUE(listed[0].revoked);
  EXPECT_FALSE(listed[1].revoked);
  auth_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();
  EXPECT_EQ(auth_->Authenticate(a->token).status().message(), "token revoked");
}

// The dashboard's unused tokens: only a successful authentication counts as use,
// kept to the second, and it starts empty in every process.
TEST_F(TokenAuthenticatorTest, LastUseIsKeptInMemoryForSuccessfulAuthentications) {
  auto used = auth_->Issue(Admin("used"));
  auto idle = auth_->Issue(Admin("idle"));
  ASSERT_OK(used);
  ASSERT_OK(idle);
  EXPECT_TRUE(auth_->LastUsed().empty());
  ASSERT_OK(auth_->Authenticate(used->token));
  // A wrong secret under the idle token's id is not a use of it.
  std::string forged = idle->token;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(auth_->Authenticate(forged).ok());
  auto seen = auth_->LastUsed();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(std::chrono::time_point_cast<std::chrono::seconds>(seen.at(used->record.id)),
            std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()));
  clock_.Advance(std::chrono::minutes(5));
  ASSERT_OK(auth_->Authenticate(used->token));
  EXPECT_EQ(std::chrono::time_point_cast<std::chrono::seconds>(auth_->LastUsed().at(used->record.id)),
            std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()));
  auto reopened = TokenAuthenticator::Create(store_.get(), clock_);
  ASSERT_OK(reopened);
  EXPECT_TRUE((*reopened)->LastUsed().empty());
}

}  // namespace
}  // namespace aegis::auth
