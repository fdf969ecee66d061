// JWT claims (RFC 7519 §4.1) of a payload whose signature has been checked:
// issuer, audience, validity window, subject, then the roles and model scope
// the IdP grants, as a Principal.
#include <algorithm>
#include <cmath>
#include <vector>

#include "aegis/common/model_glob.h"
#include "aegis/common/strict_json.h"
#include "jwt_internal.h"

namespace aegis::auth::internal {
namespace {

using json::element;
using json::Fields;

constexpr size_t kMaxSubjectBytes = 256;
// RFC 7519 NumericDate: seconds, possibly fractional. Beyond 2^53 a double
// skips whole seconds, and no honest token is dated after the year 285 million.
constexpr double kMaxNumericDate = 9007199254740992.0;

Status Malformed() { return Refuse(reason::kInvalidToken); }

// A string or an array of strings (aud, roles, model globs); anything else is
// a malformed token.
StatusOr<std::vector<std::string_view>> StringOrStrings(element value) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) return std::vector<std::string_view>{text};
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return Malformed();
  std::vector<std::string_view> out;
  out.reserve(array.size());
  for (element item : array) {
    if (item.get_string().get(text) != simdjson::SUCCESS) return Malformed();
    out.push_back(text);
  }
  return out;
}

// A finite, non-negative NumericDate no larger than 2^53 (integer or not).
StatusOr<double> NumericDate(const Fields& claims, std::string_view name) {
  AEGIS_ASSIGN_OR_RETURN(element value, claims.Required(name));
  double seconds = 0;
  if (value.get_double().get(seconds) != simdjson::SUCCESS || !std::isfinite(seconds) || seconds < 0 ||
      seconds > kMaxNumericDate) {
    return Malformed();
  }
  return seconds;
}

Status CheckIssuerAndAudience(const Fields& claims, const JwtConfig& config) {
  if (!claims.Get("iss")) return Refuse(reason::kWrongIssuer);
  auto issuer = claims.String("iss");
  if (!issuer.ok()) return Malformed();
  if (*issuer != config.issuer) return Refuse(reason::kWrongIssuer);
  auto audience = claims.Get("aud");
  if (!audience) return Refuse(reason::kWrongAudience);
  AEGIS_ASSIGN_OR_RETURN(std::vector<std::string_view> audiences, StringOrStrings(*audience));
  for (std::string_view a : audiences) {
    if (a == config.audience) return Status::Ok();
  }
  return Refuse(reason::kWrongAudience);
}

// exp is required; nbf and iat are checked when present. The leeway absorbs
// clock skew between the IdP and this server in both directions.
Status CheckValidity(const Fields& claims, std::chrono::seconds leeway, std::chrono::system_clock::time_point now) {
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const auto skew = static_cast<double>(leeway.count());
  if (!claims.Get("exp")) return Malformed();
  AEGIS_ASSIGN_OR_RETURN(double exp, NumericDate(claims, "exp"));
  // RFC 7519 §4.1.4: valid only before exp.
  if (now_s >= exp + skew) return Refuse(reason::kExpired);
  if (claims.Get("nbf")) {
    AEGIS_ASSIGN_OR_RETURN(double nbf, NumericDate(claims, "nbf"));
    if (now_s + skew < nbf) return Refuse(reason::kNotYetValid);
  }
  if (claims.Get("iat")) {
    AEGIS_ASSIGN_OR_RETURN(double iat, NumericDate(claims, "iat"));
    if (iat > now_s + skew) return Refuse(reason::kIssuedInFuture);
  }
  return Status::Ok();
}

StatusOr<std::string_view> Subject(const Fields& claims) {
  auto sub = claims.String("sub");
  if (!sub.ok() || sub->empty() || sub->size() > kMaxSubjectBytes || HasControlCharacters(*sub)) return Malformed();
  return *sub;
}

// The built-in role a value names, directly or through role_map (whose values
// Create checked); nullopt for values that grant nothing.
std::optional<policy::Role> RoleOf(std::string_view value, const JwtConfig& config) {
  if (auto role = policy::ParseRole(value)) return role;
  auto mapped = config.role_map.find(std::string(value));
  if (mapped == config.role_map.end()) return std::nullopt;
  return policy::ParseRole(mapped->second);
}

StatusOr<std::vector<policy::Role>> Roles(const Fields& claims, const JwtConfig& config) {
  std::vector<policy::Role> roles;
  auto value = claims.Get(config.roles_claim);
  if (!value) return roles;
  AEGIS_ASSIGN_OR_RETURN(std::vector<std::string_view> names, StringOrStrings(*value));
  for (std::string_view name : names) {
    auto role = RoleOf(name, config);
    if (role && std::find(roles.begin(), roles.end(), *role) == roles.end()) roles.push_back(*role);
  }
  return roles;
}

// The model globs the token scopes its roles to: "*" unless the configured
// models claim is present. A present claim must be all valid globs: a
// malformed scope is refused rather than widened or narrowed by guesswork.
// An empty array scopes to no model at all.
StatusOr<std::vector<std::string>> ModelScope(const Fields& claims, const JwtConfig& config) {
  std::optional<element> value;
  if (config.models_claim) value = claims.Get(*config.models_claim);
  if (!value) return std::vector<std::string>{"*"};
  AEGIS_ASSIGN_OR_RETURN(std::vector<std::string_view> globs, StringOrStrings(*value));
  std::vector<std::string> scope;
  for (std::string_view glob : globs) {
    if (!IsValidModelGlob(glob)) return Malformed();
    if (std::find(scope.begin(), scope.end(), glob) == scope.end()) scope.emplace_back(glob);
  }
  return scope;
}

// Scopable roles get one grant per glob. admin and auditor are never scoped
// (policy.h): the models claim does not narrow them, and a token carrying both
// is taken to grant them on every model, as the IdP asked for the role.
std::vector<policy::Grant> Grants(const std::vector<policy::Role>& roles, const std::vector<std::string>& scope) {
  std::vector<policy::Grant> grants;
  for (policy::Role role : roles) {
    if (!policy::IsScopable(role)) {
      grants.push_back({role, "*"});
      continue;
    }
    for (const std::string& glob : scope) grants.push_back({role, glob});
  }
  return grants;
}

// The claims read, each once: registered names plus the configured roles and
// models claims, which may coincide with one of them or with each other.
std::vector<std::string_view> ClaimNames(const JwtConfig& config) {
  std::vector<std::string_view> names = {"iss", "aud", "exp", "nbf", "iat", "sub"};
  auto add = [&names](std::string_view name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  add(config.roles_claim);
  if (config.models_claim) add(*config.models_claim);
  return names;
}

}  // namespace

bool HasControlCharacters(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return true;
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) return true;  // C1 controls U+0080..U+009F
    if (c == 0xe2 && next == 0x80 && i + 2 < text.size()) {
      const auto last = static_cast<unsigned char>(text[i + 2]);
      if (last == 0xa8 || last == 0xa9) return true;  // U+2028, U+2029
    }
  }
  return false;
}

StatusOr<Principal> PrincipalFromClaims(const JwtConfig& config, std::string_view payload_json, std::string_view kid,
                                        std::chrono::system_clock::time_point now) {
  json::JsonDocument doc;
  if (!doc.Parse(payload_json, "payload", kMaxTokenJsonDepth).ok()) return Malformed();
  if (!json::UniqueKeys(doc.root(), "payload").ok()) return Malformed();
  const std::vector<std::string_view> names = ClaimNames(config);
  auto claims = Fields::Of(doc.root(), "payload", std::span<const std::string_view>(names));
  if (!claims.ok()) return Malformed();

  AEGIS_RETURN_IF_ERROR(CheckIssuerAndAudience(*claims, config));
  AEGIS_RETURN_IF_ERROR(CheckValidity(*claims, config.leeway, now));
  AEGIS_ASSIGN_OR_RETURN(std::string_view sub, Subject(*claims));
  AEGIS_ASSIGN_OR_RETURN(std::vector<policy::Role> roles, Roles(*claims, config));
  AEGIS_ASSIGN_OR_RETURN(std::vector<std::string> scope, ModelScope(*claims, config));

  Principal principal;
  principal.name = "jwt:" + std::string(sub);
  principal.method = Method::kJwt;
  principal.credential_id = std::string(kid);
  principal.subject.grants = Grants(roles, scope);
  principal.subject.human = false;
  return principal;
}

}  // namespace aegis::auth::internal
