// libFuzzer target: bearer JWTs are untrusted bytes on every request; the
// JWKS comes from the IdP.
//
// An input that starts with '{' (never a token: base64url has no '{') is tried
// as a JWKS for Create and, since mutated payloads of real tokens would stop
// at the signature, as a claims payload on its own. Anything else is a token
// for a verifier built once with one RSA, one P-256 and one Ed25519 key; the
// seed tokens in fuzz_corpus/jwt are signed with those keys (throwaway keys,
// private halves discarded). Beyond "no crash": every refusal is 401 with one
// of the fixed reasons (never token contents), and every principal is
// well-formed.
#include "aegis/auth/jwt.h"

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "aegis/common/model_glob.h"
#include "jwt_internal.h"

namespace {

using aegis::auth::JwtConfig;
using aegis::auth::JwtVerifier;

constexpr char kJwks[] =
    R"({"keys":[)"
    R"({"kty":"RSA","kid":"fuzz-rsa","use":"sig","alg":"RS256","n":"tHdckWG3CknoZW05bmquSrAY3psJ-1qAzRTwK-o9eZetdAhGAgUMQ5y_tz7sWPoG3j2CSMZvNHSPtdGsSnQMHx63nS154F4CwdjNtS3Nan1GC5bkdP78xQZc8w1nIM-UEIVlnn2E109K0LUyewOiiDaw8NqjyWikyrFymVB_CXb0mca8Q89z8wz_gABje2zLryj15aQQuRsDsDkZMviMYupWP3ip5Wuigm4kEVAr1NnSwjTk1xzkpCbgScwVwMGDxa6YNFnS7FlY9wf6a23HX05INId7Nv1-jM9HNQZHunP9seHnKq6apUNKeoXoJKqYao3tmX2r1Z_1YF8XNy9hdQ","e":"AQAB"},)"
    R"({"kty":"EC","kid":"fuzz-ec","crv":"P-256","x":"QMwS---BXHtBjwtuDezTetfHtd0SZawTXU9dDvNaByE","y":"pPYUdBMxfEmE-b7SIZ95gSrsdabCgalA72DdL2Y-eMM"},)"
    R"({"kty":"OKP","kid":"fuzz-ed","crv":"Ed25519","x":"cdYse6AKSXEMhgB2xe9eAsSg74FIMLJxs_ILJQnHllA"})"
    R"(]})";
const auto kNow = std::chrono::system_clock::from_time_t(1'700'000'000);

void Check(bool ok) {
  if (!ok) std::abort();
}

JwtConfig Config() {
  JwtConfig config;
  config.issuer = "https://idp.example";
  config.audience = "aegis";
  config.models_claim = "aegis_models";
  config.role_map = {{"ml-readers", "consumer"}};
  return config;
}

const JwtVerifier& Verifier() {
  static const JwtVerifier* verifier = [] {
    auto created = JwtVerifier::Create(Config(), kJwks);
    Check(created.ok());
    return created->release();
  }();
  return *verifier;
}

void CheckOutcome(const aegis::StatusOr<aegis::auth::Principal>& result) {
  namespace reason = aegis::auth::internal::reason;
  static const std::set<std::string_view> kReasons = {
      reason::kInvalidToken,     reason::kUnsupportedHeader, reason::kExpired,           reason::kNotYetValid,
      reason::kIssuedInFuture,   reason::kUnknownKey,        reason::kAlgorithmMismatch, reason::kUnsupportedAlgorithm,
      reason::kInvalidSignature, reason::kWrongIssuer,       reason::kWrongAudience};
  if (!result.ok()) {
    Check(result.status().code() == aegis::StatusCode::kUnauthenticated);
    Check(kReasons.contains(result.status().message()));
    return;
  }
  Check(result->name.starts_with("jwt:") && result->name.size() > 4);
  Check(result->method == aegis::auth::Method::kJwt);
  Check(!result->subject.human && !result->subject.mfa_at);
  for (const auto& grant : result->subject.grants) {
    Check(aegis::IsValidModelGlob(grant.models));
    Check(aegis::policy::IsScopable(grant.role) || grant.models == "*");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.starts_with('{')) {
    auto created = JwtVerifier::Create(Config(), input);
    Check(created.ok() || created.status().code() == aegis::StatusCode::kInvalidArgument);
    CheckOutcome(aegis::auth::internal::PrincipalFromClaims(Config(), input, "fuzz-kid", kNow));
    return 0;
  }
  auto result = Verifier().Verify(input, kNow);
  CheckOutcome(result);
  if (result.ok()) {
    Check(JwtVerifier::LooksLikeJwt(input));
    Check(result->credential_id.starts_with("fuzz-"));
  }
  return 0;
}
