// JwtVerifier::Create and ReplaceKeys: the configuration and JWKS refused (an
// operator mistake must fail loudly), and the atomic key swap.
#include <gtest/gtest.h>

#include "aegis/auth/jwt.h"
#include "auth/testing/jwt_test_keys.h"
#include "common/testing/status_matchers.h"

namespace aegis::auth {
namespace {

using testing::Json;
using testing::JwksOf;
using testing::KeyKind;
using testing::SignedToken;
using testing::TestKey;

const auto kNow = std::chrono::system_clock::from_time_t(1'700'000'000);

class JwksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new Keys{TestKey::Generate(KeyKind::kRsa, "rsa-1"), TestKey::Generate(KeyKind::kEc, "ec-1"),
                     TestKey::Generate(KeyKind::kEd25519, "ed-1"), TestKey::Generate(KeyKind::kRsa, "small", 1024)};
  }
  static void TearDownTestSuite() { delete keys_; }

  static JwtConfig Config() {
    JwtConfig config;
    config.issuer = "https://idp.example";
    config.audience = "aegis";
    return config;
  }
  // The message Create gives for this JWKS (or "ok").
  static std::string Refusal(const std::string& jwks) {
    auto v = JwtVerifier::Create(Config(), jwks);
    if (v.ok()) return "ok";
    EXPECT_STATUS_IS(v, StatusCode::kInvalidArgument);
    return v.status().message();
  }
  static std::string RefusalOf(const Json& key) { return Refusal(JwksOf({key})); }
  static std::string Token(const TestKey& key) {
    const Json claims = {{"iss", "https://idp.example"}, {"aud", "aegis"}, {"sub", "s"}, {"exp", 1'700'000'300}};
    return SignedToken(key, Json{{"alg", key.alg()}, {"kid", key.kid()}}.dump(), claims.dump());
  }

  struct Keys {
    TestKey rsa, ec, ed, rsa1024;
  };
  static inline Keys* keys_ = nullptr;
  const TestKey& rsa() const { return keys_->rsa; }
  const TestKey& ec() const { return keys_->ec; }
  const TestKey& ed() const { return keys_->ed; }
};

// Whether `text` contains `part` (for readable expectations on messages).
::testing::AssertionResult Mentions(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << '"' << text << "\" does not mention \"" << part << '"';
}

TEST_F(JwksTest, AcceptsTheThreeKeyTypesWithOptionalMembers) {
  Json r = rsa().Jwk(), e = ec().Jwk(), d = ed().Jwk();
  r["alg"] = "RS256";
  r["use"] = "sig";
  e["alg"] = "ES256";
  e["key_ops"] = {"verify"};
  d["alg"] = "EdDSA";
  r["x5t"] = "ignored";
  auto v = JwtVerifier::Create(Config(), JwksOf({r, e, d}));
  ASSERT_OK(v);
  for (const TestKey* key : {&rsa(), &ec(), &ed()}) EXPECT_OK((*v)->Verify(Token(*key), kNow)) << key->alg();
}

TEST_F(JwksTest, RefusesWeakOrMalformedRsaKeys) {
  EXPECT_TRUE(Mentions(RefusalOf(keys_->rsa1024.Jwk()), "1024 bits"));
  Json k = rsa().Jwk();
  k["e"] = "AQ";  // 1
  EXPECT_TRUE(Mentions(RefusalOf(k), "exponent"));
  k["e"] = "Ag";  // 2
  EXPECT_TRUE(Mentions(RefusalOf(k), "exponent"));
  k["e"] = "AQAAAAAAAAAAAQ";  // 2^72 + 1
  EXPECT_TRUE(Mentions(RefusalOf(k), "exponent"));
  k["e"] = "Aw";  // 3 is allowed
  EXPECT_EQ(RefusalOf(k), "ok");
  k = rsa().Jwk();
  k["n"] = k["n"].get<std::string>() + "=";
  EXPECT_TRUE(Mentions(RefusalOf(k), "base64url"));
  k["n"] = 12;
  EXPECT_TRUE(Mentions(RefusalOf(k), "base64url"));
  k.erase("n");
  EXPECT_TRUE(Mentions(RefusalOf(k), "\"n\""));
}

TEST_F(JwksTest, RefusesPrivateKeyMaterial) {
  for (const auto& [key, member] : std::vector<std::pair<Json, std::string>>{
           {rsa().Jwk(), "d"}, {rsa().Jwk(), "p"}, {rsa().Jwk(), "qi"}, {ec().Jwk(), "d"}, {ed().Jwk(), "d"}}) {
    Json k = key;
    k[member] = "AAAA";
    const std::string message = RefusalOf(k);
    EXPECT_TRUE(Mentions(message, "private key material")) << member;
    EXPECT_TRUE(Mentions(message, k["kid"].get<std::string>()));
  }
  const Json oct = {{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}};
  EXPECT_TRUE(Mentions(Refusal(JwksOf({rsa().Jwk(), oct})), "private key material"));
}

TEST_F(JwksTest, RefusesMissingOrDuplicateKids) {
  for (const Json& kid : {Json(nullptr), Json(""), Json(7), Json("a\nb"), Json(std::string(257, 'k'))}) {
    Json k = ec().Jwk();
    k["kid"] = kid;
    EXPECT_TRUE(Mentions(RefusalOf(k), "kid")) << kid.dump();
  }
  Json k = ec().Jwk();
  k.erase("kid");
  EXPECT_TRUE(Mentions(RefusalOf(k), "kid"));
  Json other = ed().Jwk();
  other["kid"] = "ec-1";
  EXPECT_TRUE(Mentions(Refusal(JwksOf({ec().Jwk(), other})), "two keys with kid \"ec-1\""));
}

TEST_F(JwksTest, RefusesPointsOffTheCurve) {
  Json k = ec().Jwk();
  auto y = *crypto::Base64UrlDecode(k["y"].get<std::string>());
  y.back() ^= 1;
  k["y"] = testing::B64(y);
  EXPECT_TRUE(Mentions(RefusalOf(k), "not a point on P-256"));
  k = ec().Jwk();
  k["x"] = testing::B64(std::vector<uint8_t>(32, 0));
  k["y"] = testing::B64(std::vector<uint8_t>(32, 0));
  EXPECT_TRUE(Mentions(RefusalOf(k), "not a point on P-256"));
  k = ec().Jwk();
  auto x = *crypto::Base64UrlDecode(k["x"].get<std::string>());
  x.erase(x.begin());  // shortened coordinate
  k["x"] = testing::B64(x);
  EXPECT_TRUE(Mentions(RefusalOf(k), "32 bytes"));
}

TEST_F(JwksTest, RefusesUnsupportedKeyTypesAndCurves) {
  Json k = ec().Jwk();
  k["kty"] = "XYZ";
  std::string message = RefusalOf(k);
  EXPECT_TRUE(Mentions(message, "unsupported key type \"XYZ\""));
  EXPECT_TRUE(Mentions(message, "\"ec-1\""));  // names the key
  k["kty"] = "ec";                             // case-sensitive
  EXPECT_TRUE(Mentions(RefusalOf(k), "unsupported key type"));
  k = ec().Jwk();
  k["crv"] = "P-384";
  EXPECT_TRUE(Mentions(RefusalOf(k), "unsupported EC curve \"P-384\""));
  k = ed().Jwk();
  k["crv"] = "X25519";
  EXPECT_TRUE(Mentions(RefusalOf(k), "unsupported OKP curve"));
  k = ed().Jwk();
  k["x"] = "AAAA";
  EXPECT_TRUE(Mentions(RefusalOf(k), "32 bytes"));
  // A supported key alongside changes nothing: the whole set is refused.
  k = rsa().Jwk();
  k["kty"] = "RSA-PSS";
  EXPECT_TRUE(Mentions(Refusal(JwksOf({ec().Jwk(), k})), "unsupported key type"));
}

TEST_F(JwksTest, AlgMemberMustMatchTheKeyType) {
  for (const auto& [key, alg] : std::vector<std::pair<Json, std::string>>{{rsa().Jwk(), "PS256"},
                                                                          {rsa().Jwk(), "RS512"},
                                                                          {rsa().Jwk(), "HS256"},
                                                                          {ec().Jwk(), "RS256"},
                                                                          {ec().Jwk(), "ES384"},
                                                                          {ed().Jwk(), "ES256"},
                                                                          {ed().Jwk(), "none"}}) {
    Json k = key;
    k["alg"] = alg;
    EXPECT_TRUE(Mentions(RefusalOf(k), "\"alg\" must be")) << alg;
  }
}

TEST_F(JwksTest, UseAndKeyOps) {
  Json k = rsa().Jwk();
  k["use"] = "sig";
  k["key_ops"] = {"verify", "sign"};
  EXPECT_EQ(RefusalOf(k), "ok");
  k["key_ops"] = {"encrypt"};
  EXPECT_TRUE(Mentions(RefusalOf(k), "key_ops"));
  k["key_ops"] = "verify";
  EXPECT_TRUE(Mentions(RefusalOf(k), "key_ops"));
  k.erase("key_ops");
  k["use"] = "other";
  EXPECT_TRUE(Mentions(RefusalOf(k), "\"use\""));
  k["use"] = 1;
  EXPECT_TRUE(Mentions(RefusalOf(k), "\"use\""));
}

TEST_F(JwksTest, EncryptionKeysAreSkipped) {
  // As Keycloak publishes them: the signing key and an RSA-OAEP key side by side.
  Json enc = TestKey::Generate(KeyKind::kRsa, "enc-1").Jwk();
  enc["use"] = "enc";
  enc["alg"] = "RSA-OAEP";
  auto v = JwtVerifier::Create(Config(), JwksOf({enc, ec().Jwk()}));
  ASSERT_OK(v);
  EXPECT_OK((*v)->Verify(Token(ec()), kNow));
  const std::string forged = SignedToken(rsa(), Json{{"alg", "RS256"}, {"kid", "enc-1"}}.dump(), "{}");
  EXPECT_EQ((*v)->Verify(forged, kNow).status().message(), "unknown key id");
  // But never as the only key, nor with private material, nor sharing a kid.
  EXPECT_TRUE(Mentions(RefusalOf(enc), "no signature verification key"));
  Json enc_private = enc;
  enc_private["d"] = "AAAA";
  EXPECT_TRUE(Mentions(Refusal(JwksOf({enc_private, ec().Jwk()})), "private key material"));
  enc["kid"] = "ec-1";
  EXPECT_TRUE(Mentions(Refusal(JwksOf({enc, ec().Jwk()})), "two keys"));
}

TEST_F(JwksTest, RefusesMalformedSets) {
  EXPECT_TRUE(Mentions(Refusal(""), "not valid JSON"));
  EXPECT_TRUE(Mentions(Refusal("[]"), "JSON object"));
  EXPECT_TRUE(Mentions(Refusal("{}"), "keys"));
  EXPECT_TRUE(Mentions(Refusal(R"({"keys":{}})"), "array"));
  EXPECT_TRUE(Mentions(Refusal(R"({"keys":[]})"), "no signature verification key"));
  EXPECT_TRUE(Mentions(Refusal(R"({"keys":[1]})"), "JSON object"));
  EXPECT_TRUE(Mentions(Refusal(R"({"keys":[],"keys":[]})"), "duplicate"));
  Json k = ec().Jwk();
  const std::string dup = k.dump().substr(0, k.dump().size() - 1) + R"(,"kty":"RSA"})";
  EXPECT_TRUE(Mentions(Refusal(R"({"keys":[)" + dup + "]}"), "duplicate"));

  std::vector<Json> many;
  for (int i = 0; i < 65; ++i) {
    Json copy = ed().Jwk();
    copy["kid"] = "ed-" + std::to_string(i);
    many.push_back(copy);
  }
  EXPECT_TRUE(Mentions(Refusal(JwksOf(many)), "more than 64 keys"));
  many.pop_back();
  EXPECT_EQ(Refusal(JwksOf(many)), "ok");

  Json big = {{"keys", {ed().Jwk()}}, {"padding", std::string(size_t{1024} * 1024, ' ')}};
  EXPECT_TRUE(Mentions(Refusal(big.dump()), "larger than 1 MiB"));
}

TEST_F(JwksTest, RefusesBadConfig) {
  const std::string jwks = JwksOf({ec().Jwk()});
  auto refused = [&](JwtConfig config, const std::string& part) {
    auto v = JwtVerifier::Create(std::move(config), jwks);
    return !v.ok() && v.status().code() == StatusCode::kInvalidArgument && Mentions(v.status().message(), part);
  };
  JwtConfig c = Config();
  c.issuer.clear();
  EXPECT_TRUE(refused(c, "issuer"));
  c = Config();
  c.audience.clear();
  EXPECT_TRUE(refused(c, "audience"));
  c = Config();
  c.roles_claim.clear();
  EXPECT_TRUE(refused(c, "roles claim"));
  c = Config();
  c.models_claim = "";
  EXPECT_TRUE(refused(c, "models claim"));
  c = Config();
  c.leeway = std::chrono::seconds(601);
  EXPECT_TRUE(refused(c, "leeway"));
  c.leeway = std::chrono::seconds(-1);
  EXPECT_TRUE(refused(c, "leeway"));
  c = Config();
  c.role_map = {{"ops", "root"}};
  EXPECT_TRUE(refused(c, "unknown role \"root\""));
  c.role_map = {{"ops", "admin"}};
  c.leeway = std::chrono::seconds(600);
  EXPECT_OK(JwtVerifier::Create(c, jwks));
}

TEST_F(JwksTest, ReplaceKeysSwapsAndKeepsTheOldSetOnError) {
  auto v = JwtVerifier::Create(Config(), JwksOf({rsa().Jwk()}));
  ASSERT_OK(v);
  JwtVerifier& verifier = **v;
  EXPECT_OK(verifier.Verify(Token(rsa()), kNow));
  EXPECT_EQ(verifier.Verify(Token(ec()), kNow).status().message(), "unknown key id");

  ASSERT_OK(verifier.ReplaceKeys(JwksOf({ec().Jwk()})));
  EXPECT_OK(verifier.Verify(Token(ec()), kNow));
  EXPECT_EQ(verifier.Verify(Token(rsa()), kNow).status().message(), "unknown key id");

  EXPECT_FALSE(verifier.ReplaceKeys("not json").ok());
  EXPECT_FALSE(verifier.ReplaceKeys(JwksOf({keys_->rsa1024.Jwk()})).ok());
  EXPECT_OK(verifier.Verify(Token(ec()), kNow));
  EXPECT_EQ(verifier.Verify(Token(rsa()), kNow).status().message(), "unknown key id");
}

}  // namespace
}  // namespace aegis::auth
