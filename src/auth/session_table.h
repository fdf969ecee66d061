// SessionTable (internal to src/auth): the live login sessions, in memory only
// (a restart ends them all).
//
// A session token reads "aegis_session_<id>_<secret>": <id> is 16 hex
// characters (public: audit, logout), <secret> 32 random bytes in unpadded
// base64url. Only SHA-256(secret) is kept and compared in constant time. A
// session ends after `idle` without use, `lifetime` after creation, when
// removed, or when its user's sessions are ended. Each user has at most
// `max_per_user` sessions; creating one more ends that user's oldest.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aegis/auth/principal.h"
#include "aegis/common/mutex.h"
#include "aegis/common/status.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/crypto/hash.h"

namespace aegis::auth::internal {

inline constexpr std::string_view kSessionPrefix = "aegis_session_";

class SessionTable {
 public:
  using Time = std::chrono::steady_clock::time_point;

  SessionTable(std::chrono::seconds idle, std::chrono::seconds lifetime, size_t max_per_user)
      : idle_(idle), lifetime_(lifetime), max_per_user_(max_per_user > 0 ? max_per_user : 1) {}

  struct Created {
    std::string token;    // shown once
    Principal principal;  // with credential_id set to the session id
  };
  // Starts a session for `user`; `principal.credential_id` is filled in here.
  // `factor` names the second factor the login proved (a digest of the stored
  // TOTP secret): a session outlives neither the account nor that factor, even
  // when another server resets it.
  StatusOr<Created> Create(const std::string& user, Principal principal, Time now, std::string factor = "")
      AEGIS_EXCLUDES(mu_);

  struct Live {
    std::string user;
    Principal principal;
    std::string factor;
    bool store_refresh_due = false;  // its last use should be written to the store (at most once a minute)
  };
  // Unauthenticated("invalid session" | "session expired"); refreshes the idle timer.
  StatusOr<Live> Authenticate(std::string_view token, Time now) AEGIS_EXCLUDES(mu_);

  // NotFound unless `token` names a live session (the secret must match).
  Status Remove(std::string_view token, Time now) AEGIS_EXCLUDES(mu_);
  // Ends every session of `user`.
  void RemoveUser(const std::string& user) AEGIS_EXCLUDES(mu_);

  // A session token's public id and secret part; nullopt when it has not the
  // shape of one.
  struct Parsed {
    std::string id;
    std::string_view secret;
  };
  static std::optional<Parsed> Parse(std::string_view token);
  // Takes in a session another server (or this one before a restart) made and
  // the store keeps, unless one with its id is here already. `secret_hash` is
  // the SHA-256 of its secret.
  void Adopt(const std::string& id, const std::string& user, const crypto::Sha256Digest& secret_hash,
             Principal principal, Time created, Time last_used, std::string factor) AEGIS_EXCLUDES(mu_);
  // Ends the session `id` (idempotent).
  void RemoveId(const std::string& id) AEGIS_EXCLUDES(mu_);
  // Ends every session whose id is not in `live_ids` (sorted): ended elsewhere.
  void KeepOnly(const std::vector<std::string>& live_ids) AEGIS_EXCLUDES(mu_);

 private:
  struct Session {
    std::string user;
    crypto::Sha256Digest secret_hash;
    Principal principal;
    Time created;
    Time last_used;
    std::string factor;
    Time last_stored;  // when its last use was last written to the store
  };

  // The session `token` names if its secret matches.
  Session* Find(std::string_view token, std::string* id) AEGIS_REQUIRES(mu_);
  bool Expired(const Session& s, Time now) const;
  void Erase(const std::string& id) AEGIS_REQUIRES(mu_);

  const std::chrono::seconds idle_;
  const std::chrono::seconds lifetime_;
  const size_t max_per_user_;
  Mutex mu_;
  std::unordered_map<std::string, Session> sessions_ AEGIS_GUARDED_BY(mu_);                 // by id
  std::unordered_map<std::string, std::deque<std::string>> by_user_ AEGIS_GUARDED_BY(mu_);  // ids, oldest first
};

}  // namespace aegis::auth::internal
