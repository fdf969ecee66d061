// JwtVerifier::Verify against tokens signed at test time with real RSA 2048,
// P-256 and Ed25519 keys: the accepted shapes, then every way an attacker
// might try to get a token past it.
#include "aegis/auth/jwt.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "auth/testing/jwt_test_keys.h"
#include "common/testing/status_matchers.h"

namespace aegis::auth {
namespace {

using namespace std::string_literals;
using testing::B64;
using testing::Compact;
using testing::Json;
using testing::KeyKind;
using testing::SignedToken;
using testing::SigningInput;
using testing::TestKey;

constexpr int64_t kNow = 1'700'000'000;
const auto kNowTime = std::chrono::system_clock::from_time_t(kNow);

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new Keys{TestKey::Generate(KeyKind::kRsa, "rsa-1"),    TestKey::Generate(KeyKind::kEc, "ec-1"),
                     TestKey::Generate(KeyKind::kEd25519, "ed-1"), TestKey::Generate(KeyKind::kRsa, "rsa-1"),
                     TestKey::Generate(KeyKind::kEc, "ec-1"),      TestKey::Generate(KeyKind::kEd25519, "ed-1")};
  }
  static void TearDownTestSuite() { delete keys_; }

  void SetUp() override {
    ASSERT_TRUE(rsa().ok() && ec().ok() && ed().ok());
    config_.issuer = "https://idp.example";
    config_.audience = "aegis";
    config_.role_map = {{"ml-readers", "consumer"}, {"ml-ops", "deployer"}};
    MakeVerifier();
  }

  void MakeVerifier() {
    auto v = JwtVerifier::Create(config_, testing::JwksOf({rsa().Jwk(), ec().Jwk(), ed().Jwk()}));
    ASSERT_OK(v);
    verifier_ = std::move(*v);
  }

  static const TestKey& rsa() { return keys_->rsa; }
  static const TestKey& ec() { return keys_->ec; }
  static const TestKey& ed() { return keys_->ed; }

  static Json Claims() {
    return {{"iss", "https://idp.example"},
            {"aud", "aegis"},
            {"sub", "svc-fraud"},
            {"exp", kNow + 300},
            {"iat", kNow - 10},
            {"roles", Json::array({"consumer"})}};
  }
  static Json Header(const TestKey& key) { return {{"alg", key.alg()}, {"typ", "JWT"}, {"kid", key.kid()}}; }
  static std::string Token(const TestKey& key, const Json& claims = Claims()) {
    return SignedToken(key, Header(key).dump(), claims.dump());
  }

  StatusOr<Principal> Verify(std::string_view token) const { return verifier_->Verify(token, kNowTime); }
  // The reason Verify refuses `token` with (and that it is 401).
  std::string Refusal(std::string_view token) const {
    auto p = Verify(token);
    if (p.ok()) return "accepted";
    EXPECT_STATUS_IS(p, StatusCode::kUnauthenticated) << p.status().message();
    return p.status().message();
  }
  static std::vector<std::string> Grants(const Principal& p) {
    std::vector<std::string> out;
    for (const auto& g : p.subject.grants) out.push_back(g.Describe());
    return out;
  }

  struct Keys {
    TestKey rsa, ec, ed;
    TestKey foreign_rsa, foreign_ec, foreign_ed;  // same kids, other keys
  };
  static inline Keys* keys_ = nullptr;
  JwtConfig config_;
  std::unique_ptr<JwtVerifier> verifier_;
};

TEST_F(JwtTest, AcceptsEachAlgorithmWithItsKey) {
  for (const TestKey* key : {&rsa(), &ec(), &ed()}) {
    auto p = Verify(Token(*key));
    ASSERT_OK(p) << key->alg() << ": " << p.status().message();
    EXPECT_EQ(p->name, "jwt:svc-fraud");
    EXPECT_EQ(p->method, Method::kJwt);
    EXPECT_EQ(p->credential_id, key->kid());
    EXPECT_FALSE(p->subject.human);
    EXPECT_FALSE(p->subject.mfa_at.has_value());
    EXPECT_EQ(Grants(*p), std::vector<std::string>{"consumer:*"});
  }
}

TEST_F(JwtTest, MapsRolesAndScopesThemToModels) {
  config_.models_claim = "aegis_models";
  MakeVerifier();
  Json claims = Claims();
  claims["roles"] = {"deployer", "ml-readers", "auditor", "not-a-role", "deployer", "ml-ops"};
  claims["aegis_models"] = {"fraud-*", "credit", "fraud-*"};
  auto p = Verify(Token(rsa(), claims));
  ASSERT_OK(p);
  // Deduplicated; the auditor is unscopable and so covers every model.
  EXPECT_EQ(Grants(*p), (std::vector<std::string>{"deployer:fraud-*", "deployer:credit", "consumer:fraud-*",
                                                  "consumer:credit", "auditor:*"}));
}

TEST_F(JwtTest, AdminIgnoresTheModelScope) {
  config_.models_claim = "aegis_models";
  MakeVerifier();
  Json claims = Claims();
  claims["roles"] = "admin";  // a single string is a one-element list
  claims["aegis_models"] = "fraud-*";
  auto p = Verify(Token(ec(), claims));
  ASSERT_OK(p);
  EXPECT_EQ(Grants(*p), std::vector<std::string>{"admin:*"});
}

TEST_F(JwtTest, ModelScopeDefaultsToEverythingAndRefusesBadGlobs) {
  config_.models_claim = "aegis_models";
  MakeVerifier();
  auto p = Verify(Token(ed()));  // claim configured, absent from the token
  ASSERT_OK(p);
  EXPECT_EQ(Grants(*p), std::vector<std::string>{"consumer:*"});

  Json claims = Claims();
  claims["aegis_models"] = Json::array();
  p = Verify(Token(ed(), claims));
  ASSERT_OK(p);
  EXPECT_TRUE(p->subject.grants.empty());  // scoped to no model at all

  for (const Json& bad : {Json("../etc"), Json(""), Json::array({"ok", 3}), Json(7), Json::object()}) {
    claims["aegis_models"] = bad;
    EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token") << bad.dump();
  }
}

TEST_F(JwtTest, RolesThatMapToNothingStillAuthenticate) {
  Json claims = Claims();
  claims["roles"] = {"viewer", "Admin"};  // role names are case-sensitive
  auto p = Verify(Token(rsa(), claims));
  ASSERT_OK(p);
  EXPECT_TRUE(p->subject.grants.empty());

  claims.erase("roles");
  p = Verify(Token(rsa(), claims));
  ASSERT_OK(p);
  EXPECT_TRUE(p->subject.grants.empty());

  claims["roles"] = {"consumer", 1};
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "invalid token");
  claims["roles"] = true;
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "invalid token");
}

TEST_F(JwtTest, CustomRolesClaim) {
  config_.roles_claim = "groups";
  MakeVerifier();
  Json claims = Claims();
  claims["groups"] = {"ml-ops"};
  auto p = Verify(Token(rsa(), claims));
  ASSERT_OK(p);
  EXPECT_EQ(Grants(*p), std::vector<std::string>{"deployer:*"});
}

TEST_F(JwtTest, RefusesAlgNone) {
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string header = Json{{"alg", alg}, {"kid", "rsa-1"}}.dump();
    EXPECT_EQ(Refusal(B64(header) + "." + B64(Claims().dump()) + "."), "unsupported algorithm") << alg;
    // An unsigned token with a signature part from a real key changes nothing.
    EXPECT_EQ(Refusal(SignedToken(rsa(), header, Claims().dump())), "unsupported algorithm") << alg;
  }
}

TEST_F(JwtTest, RefusesHmacWithThePublicKeyAsSecret) {
  // The classic RS256 → HS256 confusion: sign with HMAC keyed by the public key.
  for (const std::string& secret :
       {rsa().SpkiPem(), std::string(reinterpret_cast<const char*>(rsa().SpkiDer().data()), rsa().SpkiDer().size())}) {
    const std::string header = Json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "rsa-1"}}.dump();
    const std::string payload = Claims().dump();
    auto mac = testing::HmacSha256(crypto::AsBytes(secret), SigningInput(header, payload));
    EXPECT_EQ(Refusal(Compact(header, payload, mac)), "unsupported algorithm");
  }
}

TEST_F(JwtTest, RefusesOtherAlgorithms) {
  for (const char* alg : {"HS256", "HS512", "PS256", "RS512", "ES384", "ES256K", "Ed25519", "rs256", ""}) {
    const std::string header = Json{{"alg", alg}, {"kid", "rsa-1"}}.dump();
    EXPECT_EQ(Refusal(SignedToken(rsa(), header, Claims().dump())), "unsupported algorithm") << alg;
  }
  const std::string header = Json{{"alg", 256}, {"kid", "rsa-1"}}.dump();
  EXPECT_EQ(Refusal(SignedToken(rsa(), header, Claims().dump())), "invalid token");
}

TEST_F(JwtTest, TheKeyFixesTheAlgorithm) {
  const std::string payload = Claims().dump();
  // RS256 claimed for the EC key, signed with the RSA key; and the reverse.
  EXPECT_EQ(Refusal(SignedToken(rsa(), Json{{"alg", "RS256"}, {"kid", "ec-1"}}.dump(), payload)),
            "algorithm does not match the key");
  EXPECT_EQ(Refusal(SignedToken(ec(), Json{{"alg", "ES256"}, {"kid", "rsa-1"}}.dump(), payload)),
            "algorithm does not match the key");
  EXPECT_EQ(Refusal(SignedToken(ed(), Json{{"alg", "EdDSA"}, {"kid", "ec-1"}}.dump(), payload)),
            "algorithm does not match the key");
}

TEST_F(JwtTest, RefusesUnknownOrMissingKid) {
  EXPECT_EQ(Refusal(SignedToken(rsa(), Json{{"alg", "RS256"}, {"kid", "rsa-2"}}.dump(), Claims().dump())),
            "unknown key id");
  EXPECT_EQ(Refusal(SignedToken(rsa(), Json{{"alg", "RS256"}}.dump(), Claims().dump())), "invalid token");
  EXPECT_EQ(Refusal(SignedToken(rsa(), Json{{"alg", "RS256"}, {"kid", 1}}.dump(), Claims().dump())), "invalid token");
}

TEST_F(JwtTest, RefusesAForeignKeyUsingAKnownKid) {
  for (const TestKey* key : {&keys_->foreign_rsa, &keys_->foreign_ec, &keys_->foreign_ed}) {
    EXPECT_EQ(Refusal(Token(*key)), "invalid signature") << key->alg();
  }
}

TEST_F(JwtTest, RefusesASwappedPayload) {
  for (const TestKey* key : {&rsa(), &ec(), &ed()}) {
    Json other = Claims();
    other["roles"] = {"admin"};
    const std::string good = Token(*key);
    const std::string evil = Token(*key, other);
    const auto dot1 = good.find('.');
    const auto dot2 = good.rfind('.');
    const std::string spliced =
        good.substr(0, dot1) + evil.substr(evil.find('.'), evil.rfind('.') - evil.find('.')) + good.substr(dot2);
    EXPECT_EQ(Refusal(spliced), "invalid signature") << key->alg();
  }
}

TEST_F(JwtTest, Es256NeedsTheRawSignatureForm) {
  const std::string header = Header(ec()).dump();
  const std::string payload = Claims().dump();
  const std::string input = SigningInput(header, payload);
  // A perfectly valid signature, in DER: JWS says r||s, so it is refused.
  EXPECT_EQ(Refusal(input + "." + B64(ec().EvpSign(input))), "invalid signature");
  std::vector<uint8_t> raw = ec().Sign(input);
  ASSERT_EQ(raw.size(), 64u);
  const std::vector<uint8_t> shorter(raw.begin(), raw.end() - 1);
  auto longer = raw;
  longer.push_back(0);
  EXPECT_EQ(Refusal(input + "." + B64(shorter)), "invalid signature");
  EXPECT_EQ(Refusal(input + "." + B64(longer)), "invalid signature");
  EXPECT_EQ(Refusal(input + "." + B64(std::vector<uint8_t>(64, 0))), "invalid signature");
  EXPECT_EQ(Refusal(input + "."), "invalid signature");
  EXPECT_OK(Verify(input + "." + B64(raw)));
}

TEST_F(JwtTest, TruncatedSignaturesAreRefused) {
  for (const TestKey* key : {&rsa(), &ed()}) {
    const std::string input = SigningInput(Header(*key).dump(), Claims().dump());
    auto sig = key->Sign(input);
    ASSERT_FALSE(sig.empty());
    sig.resize(sig.size() - 1);
    EXPECT_EQ(Refusal(input + "." + B64(sig)), "invalid signature");
    sig.push_back(0);
    sig.push_back(0);
    EXPECT_EQ(Refusal(input + "." + B64(sig)), "invalid signature");
  }
}

TEST_F(JwtTest, ExpiryWithLeeway) {
  Json claims = Claims();
  claims["exp"] = kNow - 61;  // leeway is 60 s
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "token expired");
  claims["exp"] = kNow - 59;
  EXPECT_OK(Verify(Token(rsa(), claims)));
  claims["exp"] = kNow - 59.5;  // NumericDate may be fractional
  EXPECT_OK(Verify(Token(rsa(), claims)));
  claims["exp"] = kNow - 60.5;
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "token expired");

  config_.leeway = std::chrono::seconds(0);
  MakeVerifier();
  claims["exp"] = kNow;  // valid only strictly before exp
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "token expired");
  claims["exp"] = kNow + 1;
  EXPECT_OK(Verify(Token(rsa(), claims)));
}

TEST_F(JwtTest, NotBeforeAndIssuedAtWithLeeway) {
  Json claims = Claims();
  claims["nbf"] = kNow + 61;
  EXPECT_EQ(Refusal(Token(ec(), claims)), "token not yet valid");
  claims["nbf"] = kNow + 59;
  EXPECT_OK(Verify(Token(ec(), claims)));
  claims["iat"] = kNow + 61;
  EXPECT_EQ(Refusal(Token(ec(), claims)), "token issued in the future");
  claims["iat"] = kNow + 59;
  EXPECT_OK(Verify(Token(ec(), claims)));
}

TEST_F(JwtTest, TimeClaimsMustBeNumericDates) {
  Json claims = Claims();
  claims.erase("exp");
  EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token");
  for (const Json& bad : {Json("1700000300"), Json(-1), Json(1e300), Json(9007199254740993.0 * 4), Json(nullptr),
                          Json::array({kNow + 300}), Json(true)}) {
    claims["exp"] = bad;
    EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token") << bad.dump();
  }
  claims = Claims();
  claims["nbf"] = "soon";
  EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token");
  claims = Claims();
  claims["iat"] = nullptr;
  EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token");
  // An integer beyond 64 bits is not valid JSON for simdjson: refused too.
  const std::string payload =
      R"({"iss":"https://idp.example","aud":"aegis","sub":"s","exp":123456789012345678901234567890})";
  EXPECT_EQ(Refusal(SignedToken(ed(), Header(ed()).dump(), payload)), "invalid token");
}

TEST_F(JwtTest, IssuerMustMatch) {
  Json claims = Claims();
  claims["iss"] = "https://evil.example";
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong issuer");
  claims["iss"] = "https://idp.example/";
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong issuer");
  claims.erase("iss");
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong issuer");
  claims["iss"] = Json::array({"https://idp.example"});
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "invalid token");
}

TEST_F(JwtTest, AudienceMustContainOurs) {
  Json claims = Claims();
  claims["aud"] = "other";
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong audience");
  claims["aud"] = Json::array({"other", "another"});
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong audience");
  claims["aud"] = Json::array();
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong audience");
  claims.erase("aud");
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "wrong audience");
  claims["aud"] = Json::array({"other", "aegis"});
  EXPECT_OK(Verify(Token(rsa(), claims)));
  claims["aud"] = Json::array({"aegis", 5});
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "invalid token");
  claims["aud"] = Json::object({{"aegis", true}});
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "invalid token");
}

TEST_F(JwtTest, SubjectIsRequiredAndPrintable) {
  Json claims = Claims();
  for (const Json& bad : {Json(""), Json(std::string(257, 'a')), Json("a\nb"), Json("a\x1b[2Jb"), Json("a\x7f"),
                          Json("a\xc2\x85"), Json("a\xe2\x80\xa8"), Json(42), Json(nullptr)}) {
    claims["sub"] = bad;
    EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token") << bad.dump();
  }
  claims.erase("sub");
  EXPECT_EQ(Refusal(Token(ed(), claims)), "invalid token");
  claims["sub"] = std::string(256, 'a');
  EXPECT_OK(Verify(Token(ed(), claims)));
  claims["sub"] = "überprüfer@example";
  auto p = Verify(Token(ed(), claims));
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "jwt:überprüfer@example");
}

TEST_F(JwtTest, RefusesDuplicateMembers) {
  const std::string header = Header(rsa()).dump();
  const std::string tail = R"("iss":"https://idp.example","aud":"aegis","exp":1700000300)";
  for (const std::string& payload : {
           "{" + tail + R"(,"sub":"alice","sub":"admin"})",
           "{" + tail + R"(,"sub":"alice","\u0073ub":"admin"})",
           "{" + tail + R"(,"sub":"alice","exp":1800000000})",
           "{" + tail + R"(,"sub":"alice","x":1,"x":2})",
           "{" + tail + R"(,"sub":"alice","nested":{"a":1,"a":2}})",
           "{" + tail + R"(,"sub":"alice","roles":["admin"],"roles":["consumer"]})",
       }) {
    EXPECT_EQ(Refusal(SignedToken(rsa(), header, payload)), "invalid token") << payload;
  }
  EXPECT_TRUE(Verify(SignedToken(rsa(), header, "{" + tail + R"(,"sub":"alice"})")).ok());
  const std::string dup_header = R"({"alg":"RS256","kid":"rsa-1","alg":"none"})";
  EXPECT_EQ(Refusal(SignedToken(rsa(), dup_header, Claims().dump())), "invalid token");
}

TEST_F(JwtTest, RefusesPayloadsThatAreNotObjects) {
  const std::string header = Header(rsa()).dump();
  for (const std::string payload : {"[]", "\"x\"", "null", "{", "{\"sub\":\"a\"} x", "", "\xff"}) {
    EXPECT_EQ(Refusal(SignedToken(rsa(), header, payload)), "invalid token") << payload;
  }
}

TEST_F(JwtTest, BoundsJsonNesting) {
  Json claims = Claims();
  claims["deep"] = Json::parse("[[[[[[[1]]]]]]]");  // 8 levels with the payload object
  EXPECT_OK(Verify(Token(rsa(), claims)));
  claims["deep"] = Json::parse("[[[[[[[[1]]]]]]]]");
  EXPECT_EQ(Refusal(Token(rsa(), claims)), "invalid token");
}

TEST_F(JwtTest, RefusesHeadersThatBringKeysOrExtensions) {
  const std::string payload = Claims().dump();
  for (const auto& [name, value] : std::vector<std::pair<std::string, Json>>{
           {"crit", Json::array({"exp"})},
           {"crit", Json::array()},
           {"cty", "JWT"},
           {"jwk", rsa().Jwk()},
           {"jku", "https://evil.example/jwks"},
           {"x5u", "https://evil.example/cert"},
           {"x5c", Json::array({"MIIB"})},
           {"jwk", nullptr},
       }) {
    Json header = Header(rsa());
    header[name] = value;
    EXPECT_EQ(Refusal(SignedToken(rsa(), header.dump(), payload)), "unsupported token header") << name;
  }
}

TEST_F(JwtTest, TypIsOptionalButMustSayJwt) {
  const std::string payload = Claims().dump();
  for (const char* typ : {"JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "application/JWT"}) {
    Json header = Header(ec());
    header["typ"] = typ;
    EXPECT_OK(Verify(SignedToken(ec(), header.dump(), payload))) << typ;
  }
  Json header = Header(ec());
  header.erase("typ");
  EXPECT_OK(Verify(SignedToken(ec(), header.dump(), payload)));
  for (const Json& typ : {Json("JOSE"), Json("JWE"), Json("application/"), Json(1)}) {
    header["typ"] = typ;
    EXPECT_EQ(Refusal(SignedToken(ec(), header.dump(), payload)), "unsupported token header") << typ.dump();
  }
}

TEST_F(JwtTest, RefusesMalformedCompactForms) {
  const std::string good = Token(rsa());
  const auto dot1 = good.find('.');
  const auto dot2 = good.rfind('.');
  const std::string h = good.substr(0, dot1);
  const std::string p = good.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string s = good.substr(dot2 + 1);
  ASSERT_OK(Verify(good));
  for (const std::string& bad : {
           std::string(),
           std::string("."),
           std::string(".."),
           std::string("abc"),
           h + "." + p,
           good + "." + s,
           "." + p + "." + s,
           h + ".." + s,
           h + "=." + p + "." + s,
           h + "." + p + "=." + s,
           h + "." + p + "." + s + "=",
           h + "." + p + "." + s + "==",
           "Bearer " + good,
           good + " ",
           " " + good,
           good + "\n",
           h + "." + p + "." + s + "+",
           h + "/." + p + "." + s,
           h + "\0"s + "." + p + "." + s,
           h + "A." + p + "." + s,  // one lone base64 character: never a whole byte
       }) {
    EXPECT_EQ(Refusal(bad), "invalid token") << bad;
  }
  // Non-canonical base64url: the same bytes with non-zero padding bits.
  std::string noncanonical = s;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  ASSERT_NE(noncanonical.size() % 4, 0u);
  noncanonical.back() = alphabet[alphabet.find(noncanonical.back()) | 1];
  ASSERT_NE(noncanonical, s);
  EXPECT_EQ(Refusal(h + "." + p + "." + noncanonical), "invalid token");
}

TEST_F(JwtTest, RefusesHugeTokens) {
  Json claims = Claims();
  claims["filler"] = std::string(size_t{12} * 1024, 'x');  // ~16 KiB once base64url-encoded
  const std::string token = Token(rsa(), claims);
  ASSERT_GT(token.size(), 16u * 1024);
  EXPECT_EQ(Refusal(token), "invalid token");
  claims["filler"] = std::string(size_t{11} * 1024, 'x');
  EXPECT_OK(Verify(Token(rsa(), claims)));
  EXPECT_EQ(Refusal(std::string(1 << 20, 'A') + ".AA.AA"), "invalid token");
}

TEST_F(JwtTest, ReasonsNeverEchoTheToken) {
  Json claims = Claims();
  claims["iss"] = "<script>alert(1)</script>";
  auto p = Verify(Token(rsa(), claims));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().find("script"), std::string::npos);
}

TEST_F(JwtTest, LooksLikeJwt) {
  EXPECT_TRUE(JwtVerifier::LooksLikeJwt(Token(rsa())));
  EXPECT_TRUE(JwtVerifier::LooksLikeJwt("eyJhbGciOiJub25lIn0.e30."));  // alg none: still a JWT, refused as one
  for (const char* other : {"aegis_0123_secret", "aegis_session_1_x", "", "a.b", "a.b.c.d", "a..c", ".b.c", "a b.c.d",
                            "a.b.c=", "a+.b.c"}) {
    EXPECT_FALSE(JwtVerifier::LooksLikeJwt(other)) << other;
  }
}

TEST_F(JwtTest, VerifyIsSafeWhileKeysAreReplaced) {
  const std::string token = Token(ed());
  const std::string jwks_a = testing::JwksOf({rsa().Jwk(), ec().Jwk(), ed().Jwk()});
  const std::string jwks_b = testing::JwksOf({ed().Jwk()});
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  readers.reserve(2);
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        if (!Verify(token).ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < 200; ++i) ASSERT_OK(verifier_->ReplaceKeys(i % 2 ? jwks_a : jwks_b));
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace aegis::auth
