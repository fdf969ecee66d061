// API tokens: the credentials of service accounts.
//
// A token reads "aegis_<id>_<secret>": <id> is 16 hex characters that name the
// token publicly (audit, revocation), <secret> is 256 random bits in base64url.
// Only SHA-256(secret) is stored — the secret has full entropy, so a slow password
// hash adds nothing — and it is compared in constant time. The id lets us find the
// record without comparing against every stored hash.
//
// Each token carries one grant: a role and a model glob (see policy.h), and may
// expire. Revocation is stored and takes effect on the next request.
//
// Thread-safety: TokenAuthenticator is safe for concurrent use; token records are
// cached in memory (loaded at start, updated by Issue and Revoke), so
// authentication never touches the database on the request path.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aegis/auth/principal.h"
#include "aegis/common/clock.h"
#include "aegis/common/status.h"
#include "aegis/store/metadata_store.h"

namespace aegis::auth {

struct TokenRequest {
  std::string name;                         // 1–64 printable ASCII characters
  std::string role;                         // a policy role name
  std::string models = "*";                 // glob; only "*" for roles that are not scopable
  std::optional<std::chrono::seconds> ttl;  // 60 s … 365 days; none = no expiry
  std::string created_by;                   // principal name
  store::RequestLimits limits;              // its own rate, burst and quota (CheckCredentialLimits)
};

struct IssuedToken {
  std::string token;  // shown once, never stored
  store::TokenRecord record;
};

inline constexpr std::chrono::seconds kMinTokenTtl{60};
inline constexpr std::chrono::seconds kMaxTokenTtl{365 * 24 * 3600};

class TokenAuthenticator {
 public:
  // Loads all token records from `store` (which must outlive this object).
  static StatusOr<std::unique_ptr<TokenAuthenticator>> Create(store::MetadataStore* store, const Clock& clock);

  // Validates the request (InvalidArgument naming the problem) and stores a new token.
  StatusOr<IssuedToken> Issue(const TokenRequest& request);
  // Every token, oldest first; records hold hashes, never secrets.
  std::vector<store::TokenRecord> List() const;
  // When each token last authenticated a request in this process, by id, to
  // the second; a token not used since the server started is absent. Kept in
  // memory only: the request path never writes to the database.
  std::map<std::string, std::chrono::system_clock::time_point> LastUsed() const;
  // NotFound for an unknown id. Idempotent.
  Status Revoke(const std::string& id);
  // Reads every token from the store again: another server issued or revoked
  // one (store::ChangeFeed). On error the tokens in memory stay as they were.
  Status Reload();

  // Whether `credential` has the shape of an API token, so callers can route it.
  static bool IsApiToken(std::string_view credential);

  // Authenticates the credential of "Authorization: Bearer <credential>".
  // Unauthenticated (with a reason safe to show) when malformed, unknown,
  // revoked or expired. Principal name "token:<name>".
  StatusOr<Principal> Authenticate(std::string_view credential) const;

 private:
  TokenAuthenticator(store::MetadataStore* store, const Clock& clock) : store_(store), clock_(clock) {}
  store::MetadataStore* store_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, store::TokenRecord> by_id_;
  std::vector<std::string> order_;  // ids, oldest first
  // By id, made with the record under the unique lock: seconds since the epoch
  // of the last successful authentication (0: none), stored under the shared
  // lock at most once a second per token.
  std::unordered_map<std::string, std::unique_ptr<std::atomic<int64_t>>> last_used_;
};

// The credential of an "Authorization: Bearer <credential>" header value (the
// scheme is case-insensitive, RFC 7235); nullopt when absent or another scheme.
std::optional<std::string_view> BearerCredential(std::optional<std::string_view> authorization);

// A grant from stored role and glob strings; InvalidArgument when the role is
// unknown, the glob invalid, or an unscopable role has a glob other than "*".
StatusOr<policy::Grant> MakeGrant(std::string_view role, std::string_view models);

}  // namespace aegis::auth
