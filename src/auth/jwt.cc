// JwtVerifier: the compact JWS framing, the protected header and the order of
// the checks: shape → header → key by kid → signature → claims. No byte of the
// payload is interpreted before its signature verifies.
#include "aegis/auth/jwt.h"

#include <algorithm>
#include <utility>

#include "aegis/common/mutex.h"
#include "aegis/common/strict_json.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/crypto/encoding.h"
#include "aegis/policy/policy.h"
#include "jwt_internal.h"

namespace aegis::auth {
namespace {

using internal::Refuse;
namespace reason = internal::reason;

constexpr std::chrono::seconds kMaxLeeway{600};

struct CompactParts {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
};

bool IsBase64UrlText(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// Exactly three base64url parts; the first two non-empty. An empty signature
// (what "alg": "none" produces) still has the shape, so that it is refused as
// a JWT with a reason rather than tried as another kind of credential.
std::optional<CompactParts> Split(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  CompactParts parts{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
  if (parts.header.empty() || parts.payload.empty()) return std::nullopt;
  if (!IsBase64UrlText(parts.header) || !IsBase64UrlText(parts.payload) || !IsBase64UrlText(parts.signature)) {
    return std::nullopt;
  }
  return parts;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// RFC 7519 "JWT" or RFC 9068 "at+jwt", either with the optional
// "application/" prefix RFC 7515 §4.1.9 says to treat as implied.
bool IsJwtType(std::string_view typ) {
  constexpr std::string_view kPrefix = "application/";
  if (typ.size() > kPrefix.size() && EqualsIgnoreCase(typ.substr(0, kPrefix.size()), kPrefix)) {
    typ.remove_prefix(kPrefix.size());
  }
  return EqualsIgnoreCase(typ, "JWT") || EqualsIgnoreCase(typ, "at+jwt");
}

struct Header {
  internal::JwsAlgorithm algorithm;
  std::string kid;
};

StatusOr<Header> ParseHeader(std::string_view encoded) {
  auto bytes = crypto::Base64UrlDecode(encoded);
  if (!bytes) return Refuse(reason::kInvalidToken);
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  json::JsonDocument doc;
  if (!doc.Parse(text, "header", internal::kMaxTokenJsonDepth).ok()) return Refuse(reason::kInvalidToken);
  if (!json::UniqueKeys(doc.root(), "header").ok()) return Refuse(reason::kInvalidToken);
  auto fields =
      json::Fields::Of(doc.root(), "header", {"alg", "kid", "typ", "crit", "cty", "jku", "jwk", "x5u", "x5c"});
  if (!fields.ok()) return Refuse(reason::kInvalidToken);
  // crit names extensions we do not implement (RFC 7515 §4.1.11 says refuse);
  // cty marks a nested JWT. jku/jwk/x5u/x5c bring their own key, which must
  // never be trusted: the configured JWKS decides. They have no use here, so a
  // token that carries one is refused rather than silently half-read.
  for (std::string_view name : {"crit", "cty", "jku", "jwk", "x5u", "x5c"}) {
    if (fields->Get(name)) return Refuse(reason::kUnsupportedHeader);
  }
  if (fields->Get("typ")) {
    auto typ = fields->String("typ");
    if (!typ.ok() || !IsJwtType(*typ)) return Refuse(reason::kUnsupportedHeader);
  }
  auto alg = fields->String("alg");
  if (!alg.ok()) return Refuse(reason::kInvalidToken);
  auto algorithm = internal::ParseAlgorithm(*alg);
  if (!algorithm) return Refuse(reason::kUnsupportedAlgorithm);
  auto kid = fields->String("kid");
  if (!kid.ok()) return Refuse(reason::kInvalidToken);
  return Header{*algorithm, std::string(*kid)};
}

Status ValidateConfig(const JwtConfig& config) {
  if (config.issuer.empty()) return Status::InvalidArgument("JWT issuer is required");
  if (config.audience.empty()) return Status::InvalidArgument("JWT audience is required");
  if (config.roles_claim.empty()) return Status::InvalidArgument("JWT roles claim name must not be empty");
  if (config.models_claim && config.models_claim->empty()) {
    return Status::InvalidArgument("JWT models claim name must not be empty");
  }
  if (config.leeway < std::chrono::seconds(0) || config.leeway > kMaxLeeway) {
    return Status::InvalidArgument("JWT leeway must be between 0 and 600 seconds");
  }
  for (const auto& [from, to] : config.role_map) {
    if (from.empty()) return Status::InvalidArgument("JWT role_map has an empty key");
    if (!policy::ParseRole(to)) {
      return Status::InvalidArgument("JWT role_map." + from + ": unknown role \"" + to + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace

struct JwtVerifier::Impl {
  Impl(JwtConfig c, std::shared_ptr<const internal::KeySet> k) : config(std::move(c)), keys(std::move(k)) {}

  const JwtConfig config;
  mutable Mutex mutex;
  std::shared_ptr<const internal::KeySet> keys AEGIS_GUARDED_BY(mutex);  // the set itself is immutable

  // A snapshot: a Verify in flight keeps the keys it started with even if
  // ReplaceKeys runs meanwhile.
  std::shared_ptr<const internal::KeySet> Keys() const AEGIS_EXCLUDES(mutex) {
    MutexLock lock(mutex);
    return keys;
  }
};

JwtVerifier::JwtVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JwtVerifier::~JwtVerifier() = default;

StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(JwtConfig config, std::string_view jwks_json) {
  AEGIS_RETURN_IF_ERROR(ValidateConfig(config));
  AEGIS_ASSIGN_OR_RETURN(std::shared_ptr<const internal::KeySet> keys, internal::ParseJwks(jwks_json));
  auto impl = std::make_unique<Impl>(std::move(config), std::move(keys));
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(impl)));
}

bool JwtVerifier::LooksLikeJwt(std::string_view token) { return Split(token).has_value(); }

StatusOr<Principal> JwtVerifier::Verify(std::string_view token, std::chrono::system_clock::time_point now) const {
  if (token.size() > internal::kMaxTokenBytes) return Refuse(reason::kInvalidToken);
  auto parts = Split(token);
  if (!parts) return Refuse(reason::kInvalidToken);
  AEGIS_ASSIGN_OR_RETURN(Header header, ParseHeader(parts->header));

  const std::shared_ptr<const internal::KeySet> keys = impl_->Keys();
  const auto key = keys->find(header.kid);
  if (key == keys->end()) return Refuse(reason::kUnknownKey);
  // The key decides the algorithm: this is what stops RS256/HS256 confusion.
  if (key->second.algorithm != header.algorithm) return Refuse(reason::kAlgorithmMismatch);

  auto signature = crypto::Base64UrlDecode(parts->signature);
  if (!signature) return Refuse(reason::kInvalidToken);
  // The signing input is the first two parts exactly as received.
  const std::string_view signing_input = token.substr(0, parts->header.size() + 1 + parts->payload.size());
  AEGIS_RETURN_IF_ERROR(internal::VerifySignature(key->second, signing_input, *signature));

  auto payload = crypto::Base64UrlDecode(parts->payload);
  if (!payload) return Refuse(reason::kInvalidToken);
  const std::string_view payload_json(reinterpret_cast<const char*>(payload->data()), payload->size());
  return internal::PrincipalFromClaims(impl_->config, payload_json, key->first, now);
}

Status JwtVerifier::ReplaceKeys(std::string_view jwks_json) {
  AEGIS_ASSIGN_OR_RETURN(std::shared_ptr<const internal::KeySet> keys, internal::ParseJwks(jwks_json));
  MutexLock lock(impl_->mutex);
  impl_->keys.swap(keys);
  return Status::Ok();
}

}  // namespace aegis::auth
