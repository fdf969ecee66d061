#include "aegis/auth/token_authenticator.h"

#include <algorithm>
#include <cctype>
#include <mutex>

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

}  // namespace

StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Create(store::MetadataStore* store,
                                                                        const Clock& clock) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(store, clock));
  AEGIS_ASSIGN_OR_RETURN(auto tokens, store->ListTokens());
  for (auto& t : tokens) auth->by_id_.emplace(t.id, std::move(t));
  return auth;
}

StatusOr<IssuedToken> TokenAuthenticator::Issue(const std::string& name, const std::string& role) {
  AEGIS_ASSIGN_OR_RETURN(std::string id, crypto::RandomHex(kIdHexLength / 2));
  AEGIS_ASSIGN_OR_RETURN(std::string secret, crypto::RandomBase64Url(kSecretBytes));
  store::TokenRecord record;
  record.id = id;
  record.name = name;
  record.role = role;
  record.secret_hash = HashSecret(secret);
  record.created_at = FormatRfc3339(clock_.Now());
  AEGIS_RETURN_IF_ERROR(store_->InsertToken(record));
  {
    std::unique_lock lock(mu_);
    by_id_[record.id] = record;
  }
  return IssuedToken{std::string(kPrefix) + id + "_" + secret, std::move(record)};
}

StatusOr<Principal> TokenAuthenticator::Authenticate(std::optional<std::string_view> authorization) const {
  if (!authorization) return Status::Unauthenticated("missing bearer token");
  std::string_view value = *authorization;
  constexpr std::string_view kScheme = "Bearer ";
  // The scheme name is case-insensitive (RFC 7235).
  if (value.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), value.begin(),
                  [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                              std::tolower(static_cast<unsigned char>(b)); })) {
    return Status::Unauthenticated("missing bearer token");
  }
  std::string_view token = value.substr(kScheme.size());
  auto parsed = ParseToken(token);
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
  return Principal{record.name, record.role, record.id};
}

}  // namespace aegis::auth
