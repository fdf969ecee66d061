// API bearer tokens: issuing and authenticating.
//
// A token reads "aegis_<id>_<secret>": <id> is 16 hex characters that name the
// token publicly (audit, revocation), <secret> is 256 random bits in base64url.
// Only SHA-256(secret) is stored — the secret has full entropy, so a slow password
// hash adds nothing — and it is compared in constant time. The id lets us find the
// record without comparing against every stored hash.
//
// Thread-safety: TokenAuthenticator is safe for concurrent use; token records are
// cached in memory (loaded at start, updated by Issue), so authentication never
// touches the database on the request path.
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aegis/common/clock.h"
#include "aegis/common/status.h"
#include "aegis/store/metadata_store.h"

namespace aegis::auth {

// Who made a request. `name` is what the audit log records.
struct Principal {
  std::string name;
  std::string role;
  std::string token_id;
};

struct IssuedToken {
  std::string token;  // shown once, never stored
  store::TokenRecord record;
};

class TokenAuthenticator {
 public:
  // Loads all token records from `store` (which must outlive this object).
  static StatusOr<std::unique_ptr<TokenAuthenticator>> Create(store::MetadataStore* store, const Clock& clock);

  // Creates and stores a new token.
  StatusOr<IssuedToken> Issue(const std::string& name, const std::string& role);

  // Authenticates an `Authorization` header value ("Bearer <token>").
  // Unauthenticated (with a reason safe to show) when missing, malformed, unknown,
  // revoked or expired.
  StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization) const;

 private:
  TokenAuthenticator(store::MetadataStore* store, const Clock& clock) : store_(store), clock_(clock) {}
  store::MetadataStore* store_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, store::TokenRecord> by_id_;
};

}  // namespace aegis::auth
