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
#include <string>
#include <string_view>
#include <unordered_map>

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
  };
  // Unauthenticated("invalid session" | "session expired"); refreshes the idle timer.
  StatusOr<Live> Authenticate(std::string_view token, Time now) AEGIS_EXCLUDES(mu_);

  // NotFound unless `token` names a live session (the secret must match).
  Status Remove(std::string_view token, Time now) AEGIS_EXCLUDES(mu_);
  // Ends every session of `user`.
  void RemoveUser(const std::string& user) AEGIS_EXCLUDES(mu_);

 private:
  struct Session {
    std::string user;
    crypto::Sha256Digest secret_hash;
    Principal principal;
    Time created;
    Time last_used;
    std::string factor;
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
