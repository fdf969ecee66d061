#include "aegis/auth/authenticator.h"

#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::MetadataStore::Open(tmp_.path() / "aegis.db")).value();
    tokens_ = std::move(TokenAuthenticator::Create(store_.get(), clock_)).value();
  }
  Authenticator Make(std::vector<CertificateMapping> mappings = {}) {
    // Sessions are not exercised here (user_directory_test.cc covers them).
    return Authenticator(tokens_.get(), nullptr, nullptr, std::move(mappings), clock_);
  }

  testing::ScopedTempDir tmp_;
  FakeClock clock_{std::chrono::system_clock::now()};
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<TokenAuthenticator> tokens_;
};

TEST_F(AuthenticatorTest, RoutesApiTokens) {
  auto issued = tokens_->Issue({"ci", "deployer", "fraud-*", std::nullopt, "test"});
  ASSERT_OK(issued);
  auto a = Make();
  auto p = a.Authenticate("Bearer " + issued->token, nullptr);
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "token:ci");
  EXPECT_EQ(p->subject.grants.at(0).Describe(), "deployer:fraud-*");
}

TEST_F(AuthenticatorTest, RefusesMissingUnknownAndUnconfiguredCredentials) {
  auto a = Make();
  EXPECT_EQ(a.Authenticate(std::nullopt, nullptr).status().message(), "missing bearer token");
  EXPECT_STATUS_IS(a.Authenticate("Basic dXNlcjpwYXNz", nullptr), StatusCode::kUnauthenticated);
  EXPECT_EQ(a.Authenticate("Bearer something", nullptr).status().message(), "invalid bearer token");
  // A JWT when none is configured.
  auto jwt = a.Authenticate("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln", nullptr);
  EXPECT_STATUS_IS(jwt, StatusCode::kUnauthenticated);
  EXPECT_NE(jwt.status().message().find("not accepted"), std::string::npos);
}

TEST_F(AuthenticatorTest, PresentedMethodFollowsTheRouting) {
  auto issued = tokens_->Issue({"ci", "deployer", "*", std::nullopt, "test"});
  ASSERT_OK(issued);
  PresentedCertificate cert{"CN=x", {}, "ab"};
  using M = std::optional<Method>;
  EXPECT_EQ(Authenticator::PresentedMethod(std::nullopt, nullptr), M());
  EXPECT_EQ(Authenticator::PresentedMethod(std::nullopt, &cert), M(Method::kClientCert));
  EXPECT_EQ(Authenticator::PresentedMethod("Bearer " + issued->token, &cert), M(Method::kToken));
  EXPECT_EQ(Authenticator::PresentedMethod("Bearer aegis_0123_wrong", nullptr), M(Method::kToken));
  EXPECT_EQ(Authenticator::PresentedMethod("Bearer something", nullptr), M(Method::kToken));
  EXPECT_EQ(Authenticator::PresentedMethod("Basic dXNlcjpwYXNz", nullptr), M(Method::kToken));
  EXPECT_EQ(Authenticator::PresentedMethod("Bearer aegis_session_0123_x", nullptr), M(Method::kSession));
  EXPECT_EQ(Authenticator::PresentedMethod("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln", nullptr),
            M(Method::kJwt));
}

TEST_F(AuthenticatorTest, MapsVerifiedCertificatesBySubjectOrSan) {
  auto a = Make({{"CN=scorer,O=Acme", "", policy::Grant{policy::Role::kConsumer, "fraud-*"}},
                 {"", "URI:spiffe://acme/ci", policy::Grant{policy::Role::kDeployer, "*"}},
                 {"", "DNS:both.acme", policy::Grant{policy::Role::kAuditor, "*"}}});
  PresentedCertificate scorer{"CN=scorer,O=Acme", {"DNS:scorer.acme"}, "ab"};
  auto p = a.Authenticate(std::nullopt, &scorer);
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "cert:CN=scorer,O=Acme");
  EXPECT_EQ(p->method, Method::kClientCert);
  EXPECT_EQ(p->credential_id, "ab");
  ASSERT_EQ(p->subject.grants.size(), 1u);
  EXPECT_EQ(p->subject.grants[0].Describe(), "consumer:fraud-*");

  PresentedCertificate ci{"CN=ci", {"DNS:ci.acme", "URI:spiffe://acme/ci", "DNS:both.acme"}, "cd"};
  auto q = a.Authenticate(std::nullopt, &ci);
  ASSERT_OK(q);
  EXPECT_EQ(q->name, "cert:URI:spiffe://acme/ci");
  EXPECT_EQ(q->subject.grants.size(), 2u);  // every matching entry adds its grant

  // Near misses: a subject is matched exactly, not as a prefix or case-insensitively.
  for (const PresentedCertificate& c :
       {PresentedCertificate{"CN=scorer,O=Acme Evil", {}, "x"}, PresentedCertificate{"cn=scorer,o=acme", {}, "x"},
        PresentedCertificate{"CN=other", {"URI:spiffe://acme/ci/extra"}, "x"}}) {
    auto r = a.Authenticate(std::nullopt, &c);
    ASSERT_FALSE(r.ok()) << c.subject;
    EXPECT_EQ(r.status().message(), "client certificate is not mapped to an identity");
    // A trusted CA's certificate nobody mapped is worth telling the operator.
    auto hint = Authenticator::ConfigurationHint(r.status());
    ASSERT_TRUE(hint.has_value());
    EXPECT_NE(hint->find("[[auth.mtls]]"), std::string_view::npos) << *hint;
  }
}

TEST(ConfigurationHintTest, OnlyRefusalsThatPointAtTheConfigurationHaveOne) {
  // What a mismatch between Aegis and the identity provider looks like...
  for (const char* reason : {"unknown key id", "wrong issuer", "wrong audience", "token not yet valid",
                             "token issued in the future", "algorithm does not match the key"}) {
    EXPECT_TRUE(Authenticator::ConfigurationHint(Status::Unauthenticated(reason)).has_value()) << reason;
  }
  // ...and what a bad or hostile credential looks like: nothing for the operator.
  for (const char* reason : {"invalid token", "invalid signature", "token expired", "unsupported algorithm",
                             "unsupported token header", "invalid or revoked token"}) {
    EXPECT_FALSE(Authenticator::ConfigurationHint(Status::Unauthenticated(reason)).has_value()) << reason;
  }
  EXPECT_FALSE(Authenticator::ConfigurationHint(Status::PermissionDenied("wrong issuer")).has_value());
}

TEST_F(AuthenticatorTest, ABearerCredentialIsJudgedAloneEvenWithACertificate) {
  auto a = Make({{"CN=scorer", "", policy::Grant{policy::Role::kConsumer, "*"}}});
  PresentedCertificate scorer{"CN=scorer", {}, "ab"};
  auto p = a.Authenticate("Bearer aegis_0000000000000000_" + std::string(43, 'A'), &scorer);
  EXPECT_STATUS_IS(p, StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace aegis::auth
