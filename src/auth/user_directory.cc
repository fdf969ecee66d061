#include "aegis/auth/user_directory.h"

#include <algorithm>
#include <semaphore>
#include <utility>

#include "aegis/auth/credential_limits.h"
#include "aegis/auth/totp.h"
#include "aegis/common/log.h"
#include "aegis/common/mutex.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "aegis/crypto/password.h"
#include "aegis/crypto/random.h"
#include "aegis/crypto/secure_buffer.h"
#include "aegis/store/metadata_store.h"
#include "lockout.h"
#include "login_concurrency.h"
#include "login_throttle.h"
#include "session_table.h"
#include "user_validation.h"

namespace aegis::auth {
namespace {

constexpr size_t kTotpSecretBytes = 20;  // 160 bits, RFC 4226's recommendation
constexpr size_t kUnknownNameCapacity = 10000;
// Each Argon2id computation holds m_cost (19 MiB by default) for its duration; a
// login flood queues here instead of exhausting memory.
constexpr std::ptrdiff_t kConcurrentHashes = 2;

constexpr std::string_view kCredentialFailure = "invalid user name, password or code";

std::vector<uint8_t> TotpContext(std::string_view name) {
  const std::string context = "totp:" + std::string(name);
  return {context.begin(), context.end()};
}

// What callers may see of an account: everything but its secrets.
// Which TOTP secret a login proved (a digest of its wrapped form, which a
// reset replaces).
std::string FactorOf(const store::UserRecord& user) {
  return crypto::HexEncode(crypto::Sha256(user.totp_secret_wrapped));
}

int64_t MillisOf(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

UserInfo InfoOf(store::UserRecord record) {
  return UserInfo{.name = std::move(record.name),
                  .role = std::move(record.role),
                  .models = std::move(record.models),
                  .disabled = record.disabled,
                  .locked_until = std::move(record.locked_until),
                  .limits = std::move(record.limits),
                  .created_at = std::move(record.created_at),
                  .created_by = std::move(record.created_by)};
}

LoginOutcome Failure(Status status, std::string reason) {
  LoginOutcome out;
  out.status = std::move(status);
  out.audit_reason = std::move(reason);
  return out;
}

}  // namespace

struct UserDirectory::Impl {
  Impl(store::MetadataStore* store, const keys::KeyProvider* kek, const Clock& clock, UserDirectoryOptions options)
      : store(store),
        kek(kek),
        clock(clock),
        options(std::move(options)),
        // The member (declared before these), not the moved-from parameter.
        lockout{this->options.lockout_threshold, this->options.lockout_duration},
        unknown_names(lockout, kUnknownNameCapacity),
        throttle({.limit = this->options.source_failure_limit,
                  .window = this->options.source_window,
                  .name_interval = this->options.source_name_interval}),
        sessions(this->options.session_idle_timeout, this->options.session_lifetime,
                 this->options.max_sessions_per_user) {}

  // Argon2id work, bounded to kConcurrentHashes at a time.
  StatusOr<std::string> Hash(std::string_view password) {
    std::scoped_lock gate(hash_gate);
    return crypto::HashPassword(password);
  }
  bool Verify(std::string_view encoded, std::string_view password) {
    std::scoped_lock gate(hash_gate);
    return crypto::VerifyPassword(encoded, password);
  }

  // A failed attempt on a stored account: count it, persist, count the source.
  LoginOutcome Fail(const store::UserRecord& user, const std::string& source, std::string reason);
  LoginOutcome Succeed(const store::UserRecord& user, int64_t step);
  // Writes a new session (its secret's hash, the grant and limits fixed at
  // login) to the store, and drops the user's oldest and everyone's expired
  // ones there.
  Status StoreSession(const store::UserRecord& user, const std::string& token,
                      std::chrono::system_clock::time_point now);
  // A session the store keeps but this server does not (yet): checked (secret,
  // expiry by the store's times) and taken in. Unauthenticated otherwise.
  StatusOr<internal::SessionTable::Live> AdoptStoredSession(std::string_view token);
  // Ends the account's sessions here and in the store.
  void EndSessionsOf(const std::string& name);
  // Whether a token this server does not know may be looked up in the store
  // now: at most kStoreLookupsPerSecond (burst as many), so a flood of made-up
  // session tokens cannot keep the database busy. Over it, such a token is
  // refused as invalid; a session this server knows never needs a lookup.
  bool TakeStoreLookup() AEGIS_EXCLUDES(lookup_mu);
  static constexpr double kStoreLookupsPerSecond = 100;
  Mutex lookup_mu;
  double lookup_allowance AEGIS_GUARDED_BY(lookup_mu) = kStoreLookupsPerSecond;
  std::chrono::steady_clock::time_point lookup_refilled AEGIS_GUARDED_BY(lookup_mu){};

  store::MetadataStore* store;
  const keys::KeyProvider* kek;
  const Clock& clock;
  const UserDirectoryOptions options;
  const internal::LockoutPolicy lockout;
  internal::UnknownNameLockouts unknown_names;
  internal::LoginThrottle throttle;
  internal::SessionTable sessions;
  internal::NameLocks user_locks;
  internal::HashGate hash_gate{kConcurrentHashes};
  std::string dummy_hash;  // verified for unknown names, so they cost what a real one does
};

StatusOr<std::unique_ptr<UserDirectory>> UserDirectory::Create(store::MetadataStore* store,
                                                               const keys::KeyProvider* kek, const Clock& clock,
                                                               UserDirectoryOptions options) {
  auto impl = std::make_unique<Impl>(store, kek, clock, std::move(options));
  AEGIS_ASSIGN_OR_RETURN(std::string filler, crypto::RandomBase64Url(16));
  AEGIS_ASSIGN_OR_RETURN(impl->dummy_hash, impl->Hash(filler));
  return std::unique_ptr<UserDirectory>(new UserDirectory(std::move(impl)));
}

UserDirectory::UserDirectory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UserDirectory::~UserDirectory() = default;

StatusOr<EnrolledUser> UserDirectory::AddUser(const NewUser& user, const std::string& created_by) {
  if (!internal::IsValidUserName(user.name)) {
    return Status::InvalidArgument(std::string(kUserNameRule));
  }
  AEGIS_ASSIGN_OR_RETURN(policy::Grant grant, internal::ValidateGrant(user.role, user.models));
  AEGIS_RETURN_IF_ERROR(internal::ValidatePassword(user.password, user.name));
  AEGIS_RETURN_IF_ERROR(CheckCredentialLimits(user.limits).status());
  // Checked first so a duplicate costs no Argon2id; InsertUser still decides a race.
  if (impl_->store->GetUser(user.name).ok()) {
    return Status::AlreadyExists("user '" + user.name + "' already exists");
  }

  crypto::SecureBuffer secret(kTotpSecretBytes);
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(secret.span()));
  store::UserRecord record;
  record.name = user.name;
  record.role = std::string(policy::RoleName(grant.role));
  record.models = grant.models;
  AEGIS_ASSIGN_OR_RETURN(record.totp_secret_wrapped, impl_->kek->Wrap(secret.span(), TotpContext(user.name)));
  record.kek_id = impl_->kek->KeyId();
  AEGIS_ASSIGN_OR_RETURN(record.password_hash, impl_->Hash(user.password));
  record.created_at = FormatRfc3339(impl_->clock.Now());
  record.created_by = created_by;
  record.limits = user.limits;
  AEGIS_RETURN_IF_ERROR(impl_->store->InsertUser(record));
  return EnrolledUser{InfoOf(std::move(record)), TotpUri(user.name, secret.span())};
}

StatusOr<std::vector<UserInfo>> UserDirectory::ListUsers() const {
  AEGIS_ASSIGN_OR_RETURN(std::vector<store::UserRecord> records, impl_->store->ListUsers());
  std::vector<UserInfo> users;
  users.reserve(records.size());
  for (auto& r : records) users.push_back(InfoOf(std::move(r)));
  return users;
}

Status UserDirectory::DisableUser(const std::string& name) {
  AEGIS_RETURN_IF_ERROR(impl_->store->DisableUser(name));
  impl_->EndSessionsOf(name);
  return Status::Ok();
}

Status UserDirectory::EnableUser(const std::string& name) { return impl_->store->EnableUser(name); }

Status UserDirectory::UnlockUser(const std::string& name) {
  // Under the name's lock, like a login: the replay guard (last_totp_step) is
  // read and written back unchanged, and no login may slip in between.
  const auto name_lock = impl_->user_locks.Lock(name);
  AEGIS_ASSIGN_OR_RETURN(store::UserRecord user, impl_->store->GetUser(name));
  return impl_->store->UpdateUserLoginState(name, user.last_totp_step, 0, std::nullopt);
}

Status UserDirectory::RemoveUser(const std::string& name) {
  const auto name_lock = impl_->user_locks.Lock(name);
  AEGIS_RETURN_IF_ERROR(impl_->store->DeleteUser(name));
  impl_->EndSessionsOf(name);
  return Status::Ok();
}

StatusOr<EnrolledUser> UserDirectory::ResetTotp(const std::string& name) {
  const auto name_lock = impl_->user_locks.Lock(name);
  AEGIS_ASSIGN_OR_RETURN(store::UserRecord user, impl_->store->GetUser(name));
  crypto::SecureBuffer secret(kTotpSecretBytes);
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(secret.span()));
  AEGIS_ASSIGN_OR_RETURN(user.totp_secret_wrapped, impl_->kek->Wrap(secret.span(), TotpContext(name)));
  user.kek_id = impl_->kek->KeyId();
  AEGIS_RETURN_IF_ERROR(impl_->store->ReplaceUserTotp(name, user.totp_secret_wrapped, user.kek_id));
  // A session opened with the old factor must not outlive it.
  impl_->EndSessionsOf(name);
  return EnrolledUser{InfoOf(std::move(user)), TotpUri(name, secret.span())};
}

bool UserDirectory::IsValidName(std::string_view name) { return internal::IsValidUserName(name); }

LoginOutcome UserDirectory::Impl::Fail(const store::UserRecord& user, const std::string& source, std::string reason) {
  const internal::LockoutState before = internal::LockoutStateOf(user);
  const internal::LockoutState after = internal::AfterFailure(before, clock.Now(), lockout);
  throttle.RecordFailure(source, user.name, clock.Steady());
  if (after != before) {
    // The lockout only protects if it is stored: an unsaved count fails loudly.
    Status saved = store->UpdateUserLoginState(user.name, user.last_totp_step, after.failed_logins,
                                               internal::LockedUntilText(after));
    if (!saved.ok()) return Failure(saved.WithContext("recording a failed login"), std::move(reason));
    if (after.locked_until && !internal::IsLocked(before, clock.Now()) && options.on_lockout) {
      options.on_lockout(user.name, source);
    }
  }
  return Failure(Status::Unauthenticated(std::string(kCredentialFailure)), std::move(reason));
}

LoginOutcome UserDirectory::Impl::Succeed(const store::UserRecord& user, int64_t step) {
  // Saved before the session exists: a code that could not be marked used is not accepted.
  Status saved = store->UpdateUserLoginState(user.name, step, 0, std::nullopt);
  if (!saved.ok()) return Failure(saved.WithContext("recording a login"), "login state not saved");
  const auto now = clock.Now();
  // The grant is fixed at login: a later change to the account needs a new login.
  auto grant = internal::ValidateGrant(user.role, user.models);
  if (!grant.ok()) return Failure(grant.status().WithContext("stored grant"), "stored grant invalid");
  Principal principal;
  principal.name = "user:" + user.name;
  principal.method = Method::kSession;
  principal.subject.grants = {std::move(grant).value()};
  principal.subject.human = true;
  principal.subject.mfa_at = now;
  // Fixed at login like the grant; limits that no longer parse leave the defaults.
  if (auto limits = CheckCredentialLimits(user.limits); limits.ok()) principal.limits = *limits;
  auto created = sessions.Create(user.name, principal, clock.Steady(), FactorOf(user));
  if (!created.ok()) return Failure(created.status(), "session not created");
  // Stored, so that it survives a restart and works on every server sharing
  // the store; a session the store did not take is not handed out.
  const Status stored = StoreSession(user, created->token, now);
  if (!stored.ok()) {
    sessions.RemoveId(created->principal.credential_id);
    return Failure(stored.WithContext("storing the session"), "session not stored");
  }
  LoginOutcome out;
  out.session = std::move(created->token);
  out.expires_at = now + options.session_lifetime;
  out.principal = std::move(created->principal);
  return out;
}

Status UserDirectory::Impl::StoreSession(const store::UserRecord& user, const std::string& token,
                                         std::chrono::system_clock::time_point now) {
  const auto parsed = internal::SessionTable::Parse(token);
  if (!parsed) return Status::Internal("a new session token has not a session's shape");
  const crypto::Sha256Digest hash = crypto::Sha256(parsed->secret);
  const int64_t now_ms = MillisOf(now);
  store::SessionRecord record{parsed->id,     user.name, {hash.begin(), hash.end()},
                              FactorOf(user), user.role, user.models,
                              user.limits,    now_ms,    now_ms};
  AEGIS_RETURN_IF_ERROR(store->InsertSession(record));
  // Housekeeping: failures leave extra rows that expire or are trimmed later.
  const auto idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.session_idle_timeout).count();
  const auto life_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.session_lifetime).count();
  store->DeleteExpiredSessions(now_ms - idle_ms, now_ms - life_ms).IgnoreError();
  if (auto mine = store->ListUserSessions(user.name); mine.ok()) {
    const size_t max = std::max<size_t>(1, options.max_sessions_per_user);
    for (size_t i = 0; i + max < mine->size(); ++i) store->DeleteSession((*mine)[i]).IgnoreError();
  }
  return Status::Ok();
}

bool UserDirectory::Impl::TakeStoreLookup() {
  MutexLock lock(lookup_mu);
  const auto now = clock.Steady();
  const double elapsed = std::chrono::duration<double>(now - lookup_refilled).count();
  lookup_refilled = now;
  lookup_allowance = std::min(kStoreLookupsPerSecond, lookup_allowance + elapsed * kStoreLookupsPerSecond);
  if (lookup_allowance < 1) return false;
  lookup_allowance -= 1;
  return true;
}

StatusOr<internal::SessionTable::Live> UserDirectory::Impl::AdoptStoredSession(std::string_view token) {
  const auto parsed = internal::SessionTable::Parse(token);
  if (!parsed || !TakeStoreLookup()) return Status::Unauthenticated("invalid session");
  auto stored = store->GetSession(parsed->id);
  if (stored.status().code() == StatusCode::kNotFound) return Status::Unauthenticated("invalid session");
  AEGIS_RETURN_IF_ERROR(stored.status());
  const crypto::Sha256Digest presented = crypto::Sha256(parsed->secret);
  if (stored->secret_hash.size() != presented.size() || !crypto::ConstantTimeEqual(presented, stored->secret_hash)) {
    return Status::Unauthenticated("invalid session");
  }
  const auto now = clock.Now();
  const int64_t now_ms = MillisOf(now);
  const auto idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.session_idle_timeout).count();
  const auto life_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.session_lifetime).count();
  if (now_ms - stored->last_used_ms > idle_ms || now_ms - stored->created_ms > life_ms) {
    store->DeleteSession(parsed->id).IgnoreError();
    sessions.RemoveId(parsed->id);
    return Status::Unauthenticated("session expired");
  }
  // The grant and limits fixed at login, as the server that made it holds them.
  auto grant = internal::ValidateGrant(stored->role, stored->models);
  if (!grant.ok()) return Status::Unauthenticated("invalid session");
  Principal principal;
  principal.name = "user:" + stored->user;
  principal.method = Method::kSession;
  principal.credential_id = stored->id;
  principal.subject.grants = {std::move(grant).value()};
  principal.subject.human = true;
  principal.subject.mfa_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(stored->created_ms));
  if (auto limits = CheckCredentialLimits(stored->limits); limits.ok()) principal.limits = *limits;
  const auto steady = clock.Steady();
  sessions.RemoveId(parsed->id);  // a copy expired here is replaced by the store's
  sessions.Adopt(parsed->id, stored->user, presented, principal,
                 steady - std::chrono::milliseconds(now_ms - stored->created_ms), steady, stored->factor);
  store->TouchSession(parsed->id, now_ms).IgnoreError();
  return internal::SessionTable::Live{stored->user, std::move(principal), stored->factor, false};
}

void UserDirectory::Impl::EndSessionsOf(const std::string& name) {
  sessions.RemoveUser(name);
  const Status ended = store->DeleteUserSessions(name);
  if (!ended.ok()) log::Warn({}, "could not end the stored sessions of {}: {}", name, ended.message());
}

LoginOutcome UserDirectory::Login(const LoginRequest& request) {
  Impl& d = *impl_;
  // Names that could never be accounts share one slot: junk is slowed as one.
  const std::string throttled_name = internal::IsValidUserName(request.user) ? request.user : std::string();
  if (const auto wait = d.throttle.Refusal(request.source, throttled_name, d.clock.Steady())) {
    LoginOutcome out = Failure(Status::TooManyRequests("too many failed logins from this address; try again later"),
                               "source throttled");
    out.retry_after = *wait;
    return out;
  }
  // One attempt per name at a time: the replay check and the failure counter are
  // read-modify-write. Other names proceed in parallel.
  const auto name_lock = d.user_locks.Lock(request.user);
  // An over-long password is never right; hashing a bounded stand-in keeps the cost equal.
  const bool too_long = request.password.size() > internal::kMaxPasswordBytes;
  const std::string_view password =
      too_long ? std::string_view(request.password).substr(0, internal::kMaxPasswordBytes) : request.password;

  // A name that could never be an account is not looked up, nor remembered (it
  // may be huge), but costs the same hash.
  const bool valid_name = internal::IsValidUserName(request.user);
  StatusOr<store::UserRecord> found = Status::NotFound("no such user");
  if (valid_name) found = d.store->GetUser(request.user);
  if (!found.ok() && found.status().code() != StatusCode::kNotFound) {
    return Failure(found.status().WithContext("reading user"), "user lookup failed");
  }
  if (!found.ok()) {
    (void)d.Verify(d.dummy_hash, password);
    if (valid_name && d.unknown_names.RecordFailure(request.user, d.clock.Now()) && d.options.on_lockout) {
      d.options.on_lockout(request.user, request.source);
    }
    d.throttle.RecordFailure(request.source, throttled_name, d.clock.Steady());
    return Failure(Status::Unauthenticated(std::string(kCredentialFailure)), "unknown user");
  }
  const store::UserRecord& user = *found;
  // The password is verified whatever the account state, so the time taken
  // does not reveal that an account is disabled or locked.
  const bool password_ok = d.Verify(too_long ? d.dummy_hash : user.password_hash, password) && !too_long;
  const auto now = d.clock.Now();
  if (user.disabled) return d.Fail(user, request.source, "account disabled");
  if (internal::IsLocked(internal::LockoutStateOf(user), now)) return d.Fail(user, request.source, "account locked");
  if (!password_ok) return d.Fail(user, request.source, "wrong password");

  auto secret = d.kek->Unwrap(user.totp_secret_wrapped, TotpContext(user.name));
  if (!secret.ok()) return Failure(secret.status().WithContext("unwrapping TOTP secret"), "totp secret unreadable");
  const std::optional<int64_t> step = MatchTotp(secret->span(), request.totp_code, now);
  if (!step) return d.Fail(user, request.source, "wrong code");
  if (*step <= user.last_totp_step) return d.Fail(user, request.source, "replayed code");
  return d.Succeed(user, *step);
}

StatusOr<Principal> UserDirectory::AuthenticateSession(std::string_view token) {
  auto known = impl_->sessions.Authenticate(token, impl_->clock.Steady());
  // Not here (made by another server, or before a restart), or expired here
  // while another server kept it in use: the store decides.
  if (!known.ok()) known = impl_->AdoptStoredSession(token);
  AEGIS_ASSIGN_OR_RETURN(internal::SessionTable::Live live, std::move(known));
  if (live.store_refresh_due) {
    // Other servers judge its idleness by the store's last use.
    const Status touched = impl_->store->TouchSession(live.principal.credential_id, MillisOf(impl_->clock.Now()));
    if (touched.code() == StatusCode::kNotFound) {  // ended by another server
      impl_->sessions.RemoveId(live.principal.credential_id);
      return Status::Unauthenticated("invalid session");
    }
  }
  // DisableUser, RemoveUser and ResetTotp end sessions at once; this also
  // catches them done by another server sharing the database.
  auto user = impl_->store->GetUser(live.user);
  if (!user.ok() && user.status().code() != StatusCode::kNotFound) return user.status();
  if (!user.ok() || user->disabled || FactorOf(*user) != live.factor) {
    impl_->sessions.RemoveUser(live.user);
    return Status::Unauthenticated("invalid session");
  }
  return std::move(live.principal);
}

StatusOr<std::vector<LoginIncident>> UserDirectory::OpenIncidents() const {
  Impl& d = *impl_;
  const auto now = d.clock.Now();
  const auto steady = d.clock.Steady();
  AEGIS_ASSIGN_OR_RETURN(std::vector<store::UserRecord> users, d.store->ListUsers());
  std::vector<LoginIncident> out;
  const auto locked = [&](std::string name, internal::SystemTime until) {
    out.push_back({LoginIncident::Kind::kAccountLocked, std::move(name), until - d.lockout.duration});
  };
  for (const auto& user : users) {
    const internal::LockoutState state = internal::LockoutStateOf(user);
    if (!internal::IsLocked(state, now)) continue;
    // An unreadable lock counts as locked indefinitely: its start is unknown.
    locked(user.name, *state.locked_until == internal::SystemTime::max() ? now : *state.locked_until);
  }
  for (auto& [name, until] : d.unknown_names.Locked(now)) locked(std::move(name), until);
  for (auto& [source, at] : d.throttle.Throttled(steady)) {
    const auto since = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(steady - at);
    out.push_back({LoginIncident::Kind::kSourceThrottled, std::move(source), since});
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.since < b.since; });
  return out;
}

bool UserDirectory::IsSessionToken(std::string_view token) { return token.starts_with(internal::kSessionPrefix); }

Status UserDirectory::Logout(std::string_view token) {
  const auto parsed = internal::SessionTable::Parse(token);
  if (!parsed) return Status::NotFound("no such session");
  // A session made by another server (or before a restart) is taken in first,
  // so that its secret is checked like any.
  if (!impl_->sessions.Authenticate(token, impl_->clock.Steady()).ok()) {
    auto adopted = impl_->AdoptStoredSession(token);
    if (adopted.status().code() == StatusCode::kUnauthenticated) return Status::NotFound("no such session");
    AEGIS_RETURN_IF_ERROR(adopted.status());
  }
  AEGIS_RETURN_IF_ERROR(impl_->sessions.Remove(token, impl_->clock.Steady()));
  return impl_->store->DeleteSession(parsed->id);
}

Status UserDirectory::DropEndedSessions() {
  AEGIS_ASSIGN_OR_RETURN(std::vector<std::string> ids, impl_->store->ListSessionIds());
  std::sort(ids.begin(), ids.end());
  impl_->sessions.KeepOnly(ids);
  return Status::Ok();
}

}  // namespace aegis::auth
