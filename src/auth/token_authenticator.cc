#include "aegis/auth/token_authenticator.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "aegis/auth/credential_limits.h"
#include "aegis/common/model_glob.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "aegis/crypto/random.h"

namespace aegis::auth {
namespace {

constexpr std::string_view kPrefix = "aegis_";
constexpr size_t kIdHexLength = 16;      // 64-bit public id
constexpr size_t kSecretBytes = 32;      // 256-bit secret
constexpr size_t kSecretB64Length = 43;  // unpadded base64url of 32 bytes

struct ParsedToken {
  std::string_view id;
  std::string_view secret;
};

std::optional<ParsedToken> ParseToken(std::string_view token) {
  if (token.size() != kPrefix.size() + kIdHexLength + 1 + kSecretB64Length) return std::nullopt;
  if (token.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = token.substr(kPrefix.size());
  if (rest[kIdHexLength] != '_') return std::nullopt;
  return ParsedToken{rest.substr(0, kIdHexLength), rest.substr(kIdHexLength + 1)};
}

std::vector<uint8_t> HashSecret(std::string_view secret) {
  auto digest = crypto::Sha256(secret);
  return {digest.begin(), digest.end()};
}

bool IsValidTokenName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

std::optional<std::string_view> BearerCredential(std::optional<std::string_view> authorization) {
  if (!authorization) return std::nullopt;
  std::string_view value = *authorization;
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || !std::equal(kScheme.begin(), kScheme.end(), value.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      })) {
    return std::nullopt;
  }
  return value.substr(kScheme.size());
}

StatusOr<policy::Grant> MakeGrant(std::string_view role_name, std::string_view models) {
  auto role = policy::ParseRole(role_name);
  if (!role) {
    return Status::InvalidArgument("unknown role '" + std::string(role_name) +
                                   "' (admin, deployer, approver, auditor, consumer)");
  }
  if (!IsValidModelGlob(models)) return Status::InvalidArgument("invalid model glob '" + std::string(models) + "'");
  if (!policy::IsScopable(*role) && models != "*") {
    return Status::InvalidArgument("role " + std::string(role_name) + " applies to every model: drop --models");
  }
  return policy::Grant{*role, std::string(models)};
}

StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Create(store::MetadataStore* store,
                                                                         const Clock& clock) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(store, clock));
  AEGIS_ASSIGN_OR_RETURN(auto tokens, store->ListTokens());
  for (auto& t : tokens) {
    auth->order_.push_back(t.id);
    auth->last_used_.emplace(t.id, std::make_unique<std::atomic<int64_t>>(0));
    auth->by_id_.emplace(t.id, std::move(t));
  }
  return auth;
}

StatusOr<IssuedToken> TokenAuthenticator::Issue(const TokenRequest& request) {
  if (!IsValidTokenName(request.name)) {
    return Status::InvalidArgument("token name must be 1-64 printable ASCII characters without spaces");
  }
  AEGIS_RETURN_IF_ERROR(MakeGrant(request.role, request.models).status());
  AEGIS_RETURN_IF_ERROR(CheckCredentialLimits(request.limits).status());
  if (request.ttl && (*request.ttl < kMinTokenTtl || *request.ttl > kMaxTokenTtl)) {
    return Status::InvalidArgument("token lifetime must be between 60 seconds and 365 days");
  }
  AEGIS_ASSIGN_OR_RETURN(std::string id, crypto::RandomHex(kIdHexLength / 2));
  AEGIS_ASSIGN_OR_RETURN(std::string secret, crypto::RandomBase64Url(kSecretBytes));
  store::TokenRecord record;
  record.id = id;
  record.name = request.name;
  record.role = request.role;
  record.models = request.models;
  record.secret_hash = HashSecret(secret);
  const auto now = clock_.Now();
  record.created_at = FormatRfc3339(now);
  if (request.ttl) record.expires_at = FormatRfc3339(now + *request.ttl);
  record.created_by = request.created_by;
  record.limits = request.limits;
  AEGIS_RETURN_IF_ERROR(store_->InsertToken(record));
  {
    std::unique_lock lock(mu_);
    by_id_[record.id] = record;
    order_.push_back(record.id);
    last_used_.emplace(record.id, std::make_unique<std::atomic<int64_t>>(0));
  }
  return IssuedToken{std::string(kPrefix) + id + "_" + secret, std::move(record)};
}

std::vector<store::TokenRecord> TokenAuthenticator::List() const {
  std::shared_lock lock(mu_);
  std::vector<store::TokenRecord> out;
  out.reserve(order_.size());
  for (const auto& id : order_) out.push_back(by_id_.at(id));
  return out;
}

Status TokenAuthenticator::Revoke(const std::string& id) {
  {
    std::shared_lock lock(mu_);
    if (by_id_.find(id) == by_id_.end()) return Status::NotFound("no token with id '" + id + "'");
  }
  // Stored first: a revocation that did not reach the database must not look done.
  AEGIS_RETURN_IF_ERROR(store_->RevokeToken(id));
  std::unique_lock lock(mu_);
  by_id_[id].revoked = true;
  return Status::Ok();
}

Status TokenAuthenticator::Reload() {
  AEGIS_ASSIGN_OR_RETURN(auto tokens, store_->ListTokens());
  std::unordered_map<std::string, store::TokenRecord> by_id;
  std::vector<std::string> order;
  for (auto& t : tokens) {
    order.push_back(t.id);
    by_id.emplace(t.id, std::move(t));
  }
  std::unique_lock lock(mu_);
  // A revocation is never undone: one made here after the list was read is
  // kept. So is a token issued here meanwhile (its own notification reads it
  // again anyway).
  for (auto& [id, record] : by_id) {
    if (auto current = by_id_.find(id); current != by_id_.end() && current->second.revoked) record.revoked = true;
  }
  for (const auto& id : order_) {
    if (!by_id.contains(id)) {
      auto kept = by_id_.find(id);
      order.push_back(id);
      by_id.emplace(id, kept->second);
    }
  }
  for (const auto& id : order) last_used_.try_emplace(id, std::make_unique<std::atomic<int64_t>>(0));
  by_id_ = std::move(by_id);
  order_ = std::move(order);
  return Status::Ok();
}

std::map<std::string, std::chrono::system_clock::time_point> TokenAuthenticator::LastUsed() const {
  std::shared_lock lock(mu_);
  std::map<std::string, std::chrono::system_clock::time_point> out;
  for (const auto& [id, seconds] : last_used_) {
    const int64_t s = seconds->load(std::memory_order_relaxed);
    if (s != 0) out.emplace(id, std::chrono::system_clock::time_point(std::chrono::seconds(s)));
  }
  return out;
}

bool TokenAuthenticator::IsApiToken(std::string_view credential) { return ParseToken(credential).has_value(); }

StatusOr<Principal> TokenAuthenticator::Authenticate(std::string_view credential) const {
  auto parsed = ParseToken(credential);
  if (!parsed) return Status::Unauthenticated("invalid bearer token");
  const auto presented = HashSecret(parsed->secret);

  std::shared_lock lock(mu_);
  auto it = by_id_.find(std::string(parsed->id));
  if (it == by_id_.end()) {
    // Compare anyway so that unknown ids and wrong secrets take the same time.
    std::vector<uint8_t> dummy(presented.size(), 0);
    (void)crypto::ConstantTimeEqual(presented, dummy);
    return Status::Unauthenticated("invalid bearer token");
  }
  const store::TokenRecord& record = it->second;
  if (!crypto::ConstantTimeEqual(presented, record.secret_hash)) {
    return Status::Unauthenticated("invalid bearer token");
  }
  if (record.revoked) return Status::Unauthenticated("token revoked");
  if (record.expires_at && FormatRfc3339(clock_.Now()) >= *record.expires_at) {
    return Status::Unauthenticated("token expired");
  }
  // For the dashboard's unused tokens: one relaxed store a second per token,
  // so a busy token does not bounce a cache line between cores on every request.
  if (const auto used = last_used_.find(record.id); used != last_used_.end()) {
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    if (used->second->load(std::memory_order_relaxed) != now_s) used->second->store(now_s, std::memory_order_relaxed);
  }
  Principal p;
  p.name = "token:" + record.name;
  p.method = Method::kToken;
  p.credential_id = record.id;
  // A stored grant that no longer parses (hand-edited database) grants nothing.
  if (auto grant = MakeGrant(record.role, record.models); grant.ok()) p.subject.grants.push_back(*grant);
  // Limits that no longer parse (hand-edited database) leave the defaults.
  if (auto limits = CheckCredentialLimits(record.limits); limits.ok()) p.limits = *limits;
  return p;
}

}  // namespace aegis::auth
