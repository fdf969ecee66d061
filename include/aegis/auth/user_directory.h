// UserDirectory: people. Accounts (password + TOTP), logins, sessions and the
// abuse limits around them.
//
// - Passwords: at least 12 characters (at most 1024 bytes), stored as Argon2id.
// - TOTP: a 160-bit secret per user, stored wrapped by the KEK; a code is
//   accepted once (its time step must be newer than the last accepted one).
// - Lockout (PCI DSS 8.3.4): 10 consecutive failures lock the account for 30
//   minutes, during which even the right password and code fail. The state is
//   in the database, so a restart does not unlock. Names that are not accounts
//   are tracked the same way in memory so both look alike.
// - Per source address: after 30 failures within 10 minutes the address is
//   throttled: each name may then be tried from it once a minute after a
//   failure of that name (TooManyRequests with how long to wait), until the
//   window passes. Names that have not failed from there lately, other
//   addresses and accounts are unaffected, so a shared address (an ingress,
//   a tunnel) slows an attacker without keeping anyone else out.
// - Every credential failure gives the same Unauthenticated message, and an
//   unknown name costs the same Argon2id verification as a wrong password.
// - Sessions: "aegis_session_<16 hex id>_<43 base64url secret>"; only SHA-256 of
//   the secret is kept, in memory. A session ends after 15 minutes without use
//   (PCI DSS 8.2.8), 8 hours after login, at logout, or when its user is
//   disabled, removed or given a new TOTP secret. A restart ends every session.
//
// Thread-safety: all methods are safe for concurrent use. Login, AddUser and
// VerifyPassword cost an Argon2id computation (tens of milliseconds): call them
// on a worker thread, never on an I/O thread. AuthenticateSession is cheap.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/auth/principal.h"
#include "aegis/common/clock.h"
#include "aegis/common/status.h"
#include "aegis/keys/key_provider.h"
#include "aegis/store/metadata_store.h"

namespace aegis::store {
class MetadataStore;
}  // namespace aegis::store

namespace aegis::auth {

struct UserDirectoryOptions {
  std::chrono::seconds session_idle_timeout{15 * 60};
  std::chrono::seconds session_lifetime{8 * 3600};
  int lockout_threshold = 10;
  std::chrono::seconds lockout_duration{30 * 60};
  int source_failure_limit = 30;
  std::chrono::seconds source_window{10 * 60};
  // From a throttled address: one attempt per name per this, after its failure.
  std::chrono::seconds source_name_interval{60};
  size_t max_sessions_per_user = 16;  // the oldest is ended beyond this
  // Told when a name becomes locked (an account, or a valid name that is not
  // one), with the source of the failure that locked it. From the login's
  // worker thread; it must not block (guard incidents: Post).
  std::function<void(const std::string& name, const std::string& source)> on_lockout;
};

// What a refused user name is told: the rule of IsValidName.
inline constexpr std::string_view kUserNameRule =
    "invalid user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit";

struct NewUser {
  std::string name;          // [A-Za-z0-9][A-Za-z0-9._@-]{0,63}
  std::string role;          // a policy role name
  std::string models = "*";  // glob; only "*" for admin and auditor
  std::string password;
  store::RequestLimits limits;  // its own rate, burst and quota (CheckCredentialLimits)
};

// An account as the directory shows it to its callers (API handlers, CLI,
// dashboard). It has no field for the password hash or the wrapped TOTP secret:
// those stay inside the directory, so no caller can pass them on by mistake.
struct UserInfo {
  std::string name;
  std::string role;          // a policy role name
  std::string models = "*";  // model glob the role applies to
  bool disabled = false;
  std::optional<std::string> locked_until;  // RFC 3339; locked while now < locked_until
  store::RequestLimits limits;
  std::string created_at;
  std::string created_by;
};

struct EnrolledUser {
  UserInfo record;
  std::string totp_uri;  // otpauth://… — shown once, to enrol an authenticator
};

struct LoginRequest {
  std::string user;
  std::string password;
  std::string totp_code;
  std::string source;  // client IP address (no port)
};

struct LoginOutcome {
  // OK; Unauthenticated("invalid user name, password or code") for every
  // credential failure; TooManyRequests when the source is throttled.
  Status status;
  // The real reason, for the audit log only: "unknown user", "wrong password",
  // "wrong code", "replayed code", "account locked", "account disabled",
  // "source throttled". Empty on success.
  std::string audit_reason;
  // With TooManyRequests: how long to wait before trying this name again.
  std::chrono::seconds retry_after{0};
  // On success:
  std::string session;                               // the session token, shown once
  std::chrono::system_clock::time_point expires_at;  // absolute end (8 h)
  std::optional<Principal> principal;
};

// An abuse limit in force now, for the dashboard and metrics.
struct LoginIncident {
  enum class Kind { kAccountLocked, kSourceThrottled };
  Kind kind = Kind::kAccountLocked;
  // The locked name (an account, or a name that is not one: both lock alike) or
  // the throttled client address. Names are valid user names, never raw input.
  std::string subject;
  std::chrono::system_clock::time_point since;  // when the lock or throttle began
};

class UserDirectory {
 public:
  // `store`, `kek` and `clock` must outlive the directory.
  static StatusOr<std::unique_ptr<UserDirectory>> Create(store::MetadataStore* store, const keys::KeyProvider* kek,
                                                         const Clock& clock, UserDirectoryOptions options = {});
  ~UserDirectory();

  // InvalidArgument for a bad name, role, glob or weak password; AlreadyExists.
  StatusOr<EnrolledUser> AddUser(const NewUser& user, const std::string& created_by);
  // Ordered by name.
  StatusOr<std::vector<UserInfo>> ListUsers() const;
  // Disables the account and ends its sessions. NotFound if absent.
  Status DisableUser(const std::string& name);
  // Lets a disabled account log in again (its lockout state is unchanged).
  // NotFound if absent.
  Status EnableUser(const std::string& name);
  // Ends the account's lockout and clears its failure count, so the right
  // password and code work at once. NotFound if absent.
  Status UnlockUser(const std::string& name);
  // Deletes the account and ends its sessions. Its grant lived in the account,
  // so nothing is left that names it (audit events and `created_by` fields
  // are history and stay). NotFound if absent.
  Status RemoveUser(const std::string& name);
  // Gives the account a new TOTP secret (generated and wrapped exactly as at
  // AddUser) and ends its sessions; codes of the old secret stop working.
  // Returns the account and the new enrolment URI, shown once. NotFound if
  // absent.
  StatusOr<EnrolledUser> ResetTotp(const std::string& name);
  // Whether `name` could be an account name at all (the rule AddUser applies).
  static bool IsValidName(std::string_view name);

  LoginOutcome Login(const LoginRequest& request);

  // Authenticates a session token and refreshes its idle timer.
  // Unauthenticated("session expired" | "invalid session") otherwise.
  StatusOr<Principal> AuthenticateSession(std::string_view token);
  // Whether `token` looks like a session token (prefix), so callers can route it.
  static bool IsSessionToken(std::string_view token);
  // Ends the session. NotFound if it is not a live session.
  Status Logout(std::string_view token);
  // Ends here the sessions another server ended (logout, expiry, account
  // change): the store's list is the truth (store::ChangeFeed calls this).
  Status DropEndedSessions();

  // Accounts locked and source addresses throttled right now, oldest first.
  // Reads every account from the store: for a scrape, not the request path.
  StatusOr<std::vector<LoginIncident>> OpenIncidents() const;

 private:
  struct Impl;
  explicit UserDirectory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::auth
