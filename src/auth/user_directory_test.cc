#include "aegis/auth/user_directory.h"

#include <atomic>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "aegis/auth/totp.h"
#include "aegis/crypto/encoding.h"
#include "aegis/store/metadata_store.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::auth {
namespace {

using namespace std::chrono_literals;

const std::string kPassword = "correct horse battery";

// Secrets never leave the directory, and the compiler holds it to that: the
// type callers get has no field a hash or a wrapped secret could travel in.
template <typename T>
concept HasPasswordHash = requires(const T& t) {
  t.password_hash;
};
template <typename T>
concept HasWrappedTotpSecret = requires(const T& t) {
  t.totp_secret_wrapped;
};
static_assert(HasPasswordHash<store::UserRecord> && HasWrappedTotpSecret<store::UserRecord>);  // the checks work
static_assert(!HasPasswordHash<UserInfo> && !HasWrappedTotpSecret<UserInfo>);
static_assert(std::is_same_v<decltype(EnrolledUser::record), UserInfo>);
static_assert(
    std::is_same_v<decltype(std::declval<const UserDirectory&>().ListUsers()), StatusOr<std::vector<UserInfo>>>);
constexpr auto kStart = std::chrono::sys_days(std::chrono::year(2026) / 1 / 1);  // a step boundary

class UserDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kek_ = std::move(keys::LocalKeyProvider::Create(tmp_.path() / "keys", std::nullopt)).value();
    store_ = std::move(store::MetadataStore::Open(tmp_.path() / "aegis.db")).value();
    Recreate();
  }

  void Recreate(UserDirectoryOptions options = {}) {
    users_.reset();
    auto created = UserDirectory::Create(store_.get(), kek_.get(), clock_, options);
    ASSERT_OK(created);
    users_ = std::move(*created);
  }

  // Adds an account and returns its TOTP secret, read back from the enrolment URI.
  std::string Add(const std::string& name, const std::string& role = "deployer", const std::string& models = "*") {
    auto enrolled = users_->AddUser(NewUser{name, role, models, kPassword}, "user:root");
    EXPECT_OK(enrolled);
    if (!enrolled.ok()) return "";
    const std::string& uri = enrolled->totp_uri;
    const size_t begin = uri.find("secret=") + 7;
    auto secret = Base32Decode(uri.substr(begin, uri.find('&', begin) - begin));
    EXPECT_TRUE(secret.has_value()) << uri;
    return secret.value_or("");
  }

  std::string Code(const std::string& secret, int64_t step_offset = 0) {
    return TotpCode(crypto::AsBytes(secret), TotpStep(clock_.Now()) + step_offset);
  }

  LoginOutcome Login(const std::string& name, const std::string& password, const std::string& code,
                     const std::string& source = "192.0.2.1") {
    return users_->Login(LoginRequest{name, password, code, source});
  }

  // A successful login; the clock moves to the next step first so every call has a fresh code.
  std::string LoginOk(const std::string& name, const std::string& secret, const std::string& source = "192.0.2.1") {
    clock_.Advance(30s);
    LoginOutcome out = Login(name, kPassword, Code(secret), source);
    EXPECT_OK(out.status) << " / " << out.audit_reason;
    return out.session;
  }

  testing::ScopedTempDir tmp_;
  FakeClock clock_{kStart};
  std::unique_ptr<keys::LocalKeyProvider> kek_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<UserDirectory> users_;
};

// Whether every character of `s` is in `alphabet` (std::regex trips a GCC 12
// -Wmaybe-uninitialized false positive under the sanitizers).
bool AllOf(std::string_view s, std::string_view alphabet) {
  return !s.empty() && s.find_first_not_of(alphabet) == std::string_view::npos;
}
constexpr std::string_view kLowerHex = "0123456789abcdef";
constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void ExpectCredentialFailure(const LoginOutcome& out, const std::string& reason) {
  EXPECT_STATUS_IS(out.status, StatusCode::kUnauthenticated) << out.status.message();
  EXPECT_EQ(out.status.message(), "invalid user name, password or code");
  EXPECT_EQ(out.audit_reason, reason);
  EXPECT_TRUE(out.session.empty());
  EXPECT_FALSE(out.principal.has_value());
}

TEST_F(UserDirectoryTest, AddListDisable) {
  auto enrolled = users_->AddUser(NewUser{"alice", "deployer", "fraud-*", kPassword}, "user:root");
  ASSERT_OK(enrolled);
  EXPECT_EQ(enrolled->record.name, "alice");
  EXPECT_EQ(enrolled->record.role, "deployer");
  EXPECT_EQ(enrolled->record.models, "fraud-*");
  EXPECT_EQ(enrolled->record.created_by, "user:root");
  EXPECT_EQ(enrolled->record.created_at, "2026-01-01T00:00:00.000000Z");
  EXPECT_FALSE(enrolled->record.disabled);
  EXPECT_FALSE(enrolled->record.locked_until.has_value());
  const std::string_view uri = enrolled->totp_uri;
  const std::string_view head = "otpauth://totp/Aegis:alice?secret=";
  const std::string_view tail = "&issuer=Aegis&algorithm=SHA1&digits=6&period=30";
  ASSERT_EQ(uri.size(), head.size() + 32 + tail.size()) << uri;
  EXPECT_TRUE(uri.starts_with(head)) << uri;
  EXPECT_TRUE(uri.ends_with(tail)) << uri;
  EXPECT_TRUE(AllOf(uri.substr(head.size(), 32), "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) << uri;

  // Stored: an Argon2id hash and the secret wrapped by the KEK, never in clear.
  auto stored = store_->GetUser("alice");
  ASSERT_OK(stored);
  EXPECT_TRUE(stored->password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << stored->password_hash;
  EXPECT_EQ(stored->password_hash.find(kPassword), std::string::npos);
  EXPECT_GT(stored->totp_secret_wrapped.size(), 20u);
  EXPECT_EQ(stored->kek_id, kek_->KeyId());
  EXPECT_EQ(stored->last_totp_step, -1);

  Add("bob", "admin");
  auto list = users_->ListUsers();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].role, "admin");
  EXPECT_EQ((*list)[0].models, "fraud-*");
  EXPECT_EQ((*list)[0].created_by, "user:root");
  ASSERT_OK(users_->DisableUser("alice"));
  EXPECT_TRUE(users_->ListUsers()->at(0).disabled);
  EXPECT_STATUS_IS(users_->DisableUser("carol"), StatusCode::kNotFound);
}

TEST_F(UserDirectoryTest, RefusesBadAccounts) {
  auto refused = [&](const NewUser& user, const std::string& fragment) {
    auto out = users_->AddUser(user, "user:root");
    ASSERT_FALSE(out.ok()) << user.name;
    EXPECT_STATUS_IS(out, StatusCode::kInvalidArgument) << user.name;
    EXPECT_NE(out.status().message().find(fragment), std::string::npos) << out.status().message();
    EXPECT_EQ(out.status().message().find(user.password), std::string::npos) << "the password is never echoed";
  };
  for (const char* name : {"", ".alice", "-a", "a b", "al/ice", "ålice", "a'b"}) {
    refused(NewUser{name, "consumer", "*", kPassword}, "invalid user name");
  }
  refused(NewUser{std::string(65, 'a'), "consumer", "*", kPassword}, "invalid user name");
  refused(NewUser{"alice", "root", "*", kPassword}, "unknown role");
  refused(NewUser{"alice", "Admin", "*", kPassword}, "unknown role");
  refused(NewUser{"alice", "consumer", "fraud/*", kPassword}, "invalid model glob");
  refused(NewUser{"alice", "admin", "fraud-*", kPassword}, "every model");
  refused(NewUser{"alice", "auditor", "fraud-*", kPassword}, "every model");
  refused(NewUser{"alice", "consumer", "*", "elevenchars"}, "at least 12 characters");
  // Seven two-byte characters are 14 bytes but only 7 characters.
  refused(NewUser{"alice", "consumer", "*", "ääääääá"}, "at least 12 characters");
  refused(NewUser{"alice", "consumer", "*", std::string(1025, 'x')}, "at most 1024 bytes");
  refused(NewUser{"alice", "consumer", "*", "\xff\xfe" + kPassword}, "UTF-8");
  refused(NewUser{"Administrator1", "consumer", "*", "aDMINISTRATOR1"}, "user name");
  EXPECT_TRUE(users_->ListUsers()->empty());

  // At the edges: 12 multi-byte characters, 1024 bytes, the longest name.
  EXPECT_OK(users_->AddUser(NewUser{"u1", "consumer", "*", "ääääääääääää"}, "r"));
  EXPECT_OK(users_->AddUser(NewUser{"u2", "consumer", "*", std::string(1024, 'x')}, "r"));
  EXPECT_OK(users_->AddUser(NewUser{std::string(64, 'a'), "consumer", "a.b_c-d*", kPassword}, "r"));
  EXPECT_OK(users_->AddUser(NewUser{"j.doe@example.com", "auditor", "*", kPassword}, "r"));

  Add("alice");
  auto dup = users_->AddUser(NewUser{"alice", "consumer", "*", kPassword}, "user:root");
  EXPECT_STATUS_IS(dup, StatusCode::kAlreadyExists);
}

TEST_F(UserDirectoryTest, LoginStartsASessionWithTheUsersGrant) {
  const std::string secret = Add("alice", "deployer", "fraud-*");
  clock_.Advance(30s);
  const auto login_time = clock_.Now();
  LoginOutcome out = Login("alice", kPassword, Code(secret));
  ASSERT_OK(out.status);
  EXPECT_EQ(out.audit_reason, "");
  ASSERT_EQ(out.session.size(), 14u + 16 + 1 + 43) << out.session;
  EXPECT_TRUE(out.session.starts_with("aegis_session_")) << out.session;
  EXPECT_TRUE(AllOf(std::string_view(out.session).substr(14, 16), kLowerHex)) << out.session;
  EXPECT_EQ(out.session[30], '_');
  EXPECT_TRUE(AllOf(std::string_view(out.session).substr(31), kBase64Url)) << out.session;
  EXPECT_TRUE(UserDirectory::IsSessionToken(out.session));
  EXPECT_FALSE(UserDirectory::IsSessionToken("aegis_0123456789abcdef_x"));
  EXPECT_EQ(out.expires_at, login_time + 8h);
  ASSERT_TRUE(out.principal.has_value());

  clock_.Advance(1min);
  auto principal = users_->AuthenticateSession(out.session);
  ASSERT_OK(principal);
  EXPECT_EQ(principal->name, "user:alice");
  EXPECT_EQ(principal->method, Method::kSession);
  EXPECT_EQ(principal->credential_id, out.session.substr(14, 16));
  EXPECT_EQ(out.principal->credential_id, principal->credential_id);
  ASSERT_EQ(principal->subject.grants.size(), 1u);
  EXPECT_EQ(principal->subject.grants[0].role, policy::Role::kDeployer);
  EXPECT_EQ(principal->subject.grants[0].models, "fraud-*");
  EXPECT_TRUE(principal->subject.human);
  EXPECT_EQ(principal->subject.mfa_at, login_time);

  auto stored = store_->GetUser("alice");
  EXPECT_EQ(stored->last_totp_step, TotpStep(login_time));
  EXPECT_EQ(stored->failed_logins, 0);
}

TEST_F(UserDirectoryTest, EveryCredentialFailureLooksTheSame) {
  const std::string secret = Add("alice");
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", "wrong password!", Code(secret)), "wrong password");
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret, 3)), "wrong code");
  ExpectCredentialFailure(Login("alice", kPassword, "12345"), "wrong code");
  ExpectCredentialFailure(Login("alice", kPassword, ""), "wrong code");
  ExpectCredentialFailure(Login("mallory", kPassword, Code(secret)), "unknown user");
  ExpectCredentialFailure(Login("", "", ""), "unknown user");
  ExpectCredentialFailure(Login("alice", kPassword + std::string(2000, 'x'), Code(secret)), "wrong password");
  EXPECT_EQ(store_->GetUser("alice")->failed_logins, 5);
}

TEST_F(UserDirectoryTest, ACodeIsAcceptedOnce) {
  const std::string secret = Add("alice");
  clock_.Advance(30s);
  const std::string code = Code(secret);
  ASSERT_OK(Login("alice", kPassword, code).status);
  ExpectCredentialFailure(Login("alice", kPassword, code), "replayed code");
  // One step later the previous code is still inside the window, but used.
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", kPassword, code), "replayed code");
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret, -1)), "replayed code");
  EXPECT_OK(Login("alice", kPassword, Code(secret)).status);
  // And an older step after a newer one was used.
  clock_.Advance(30s);
  ASSERT_OK(Login("alice", kPassword, Code(secret, 1)).status);
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "replayed code");
}

TEST_F(UserDirectoryTest, ConcurrentLoginsCannotShareACode) {
  const std::string secret = Add("alice");
  clock_.Advance(30s);
  const std::string code = Code(secret);
  std::atomic<int> ok{0}, replayed{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      LoginOutcome out = Login("alice", kPassword, code);
      if (out.status.ok()) ++ok;
      if (out.audit_reason == "replayed code") ++replayed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(replayed.load(), 3);
}

TEST_F(UserDirectoryTest, TenFailuresLockTheAccountForThirtyMinutes) {
  const std::string secret = Add("alice");
  const std::string bob = Add("bob");
  clock_.Advance(30s);
  for (int i = 0; i < 9; ++i) {
    ExpectCredentialFailure(Login("alice", "wrong password!", Code(secret)), "wrong password");
  }
  EXPECT_EQ(store_->GetUser("alice")->failed_logins, 9);
  EXPECT_FALSE(store_->GetUser("alice")->locked_until.has_value());
  ExpectCredentialFailure(Login("alice", kPassword, "000000"), "wrong code");
  auto stored = store_->GetUser("alice");
  EXPECT_EQ(stored->failed_logins, 10);
  EXPECT_EQ(stored->locked_until, FormatRfc3339(clock_.Now() + 30min));
  EXPECT_EQ(users_->ListUsers()->at(0).locked_until, stored->locked_until);  // what the API shows

  // Locked: the right password and code fail too, and look like any failure.
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "account locked");
  // Other accounts are unaffected.
  EXPECT_FALSE(LoginOk("bob", bob).empty());

  // A restart does not unlock.
  Recreate();
  clock_.Advance(29min);
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "account locked");
  EXPECT_EQ(store_->GetUser("alice")->locked_until, stored->locked_until) << "failures while locked do not extend it";

  clock_.Advance(1min);
  EXPECT_FALSE(LoginOk("alice", secret).empty());
  stored = store_->GetUser("alice");
  EXPECT_EQ(stored->failed_logins, 0);
  EXPECT_FALSE(stored->locked_until.has_value());
}

TEST_F(UserDirectoryTest, CountingRestartsAfterALockExpires) {
  const std::string secret = Add("alice");
  for (int i = 0; i < 10; ++i) Login("alice", "wrong password!", "000000");
  ASSERT_TRUE(store_->GetUser("alice")->locked_until.has_value());
  clock_.Advance(31min);
  ExpectCredentialFailure(Login("alice", "wrong password!", Code(secret)), "wrong password");
  auto stored = store_->GetUser("alice");
  EXPECT_EQ(stored->failed_logins, 1);
  EXPECT_FALSE(stored->locked_until.has_value());
  EXPECT_FALSE(LoginOk("alice", secret).empty());
}

TEST_F(UserDirectoryTest, UnknownNamesBehaveLikeLockedAccounts) {
  const std::string secret = Add("alice");
  clock_.Advance(30s);
  for (int i = 0; i < 10; ++i) {
    LoginOutcome real = Login("alice", "wrong password!", Code(secret));
    LoginOutcome ghost = Login("ghost", "wrong password!", Code(secret));
    EXPECT_EQ(real.status.code(), ghost.status.code());
    EXPECT_EQ(real.status.message(), ghost.status.message());
  }
  LoginOutcome locked = Login("alice", kPassword, Code(secret));
  LoginOutcome ghost = Login("ghost", kPassword, Code(secret));
  EXPECT_EQ(locked.audit_reason, "account locked");
  EXPECT_EQ(ghost.audit_reason, "unknown user");
  EXPECT_EQ(locked.status.code(), ghost.status.code());
  EXPECT_EQ(locked.status.message(), ghost.status.message());
}

TEST_F(UserDirectoryTest, AThrottledSourceSlowsGuessesButLetsTheRightCredentialsIn) {
  const std::string secret = Add("alice");
  const std::string bob = Add("bob");
  clock_.Advance(30s);
  // Spread over names so no account lockout gets in the way.
  for (int i = 0; i < 30; ++i) {
    ExpectCredentialFailure(Login("ghost" + std::to_string(i % 3), kPassword, "000000", "198.51.100.7"),
                            "unknown user");
  }
  // A name that just failed from this address waits a minute, refused before
  // any password is checked ...
  LoginOutcome throttled = Login("ghost0", kPassword, "000000", "198.51.100.7");
  EXPECT_STATUS_IS(throttled.status, StatusCode::kTooManyRequests);
  EXPECT_EQ(throttled.status.message(), "too many failed logins from this address; try again later");
  EXPECT_EQ(throttled.audit_reason, "source throttled");
  EXPECT_GT(throttled.retry_after.count(), 0);
  EXPECT_LE(throttled.retry_after.count(), 60);

  // ... but the right password and code of someone else get in at once: the
  // address is shared, and nobody is kept out for what others did there.
  EXPECT_FALSE(LoginOk("alice", secret, "198.51.100.7").empty());
  // A failure of that name from the throttled address slows that name too.
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("bob", "wrong password!", Code(bob), "198.51.100.7"), "wrong password");
  EXPECT_STATUS_IS(Login("bob", kPassword, Code(bob), "198.51.100.7").status, StatusCode::kTooManyRequests);
  EXPECT_EQ(store_->GetUser("bob")->failed_logins, 1) << "a throttled attempt never reaches the account";
  EXPECT_FALSE(LoginOk("bob", bob, "198.51.100.8").empty()) << "other addresses are unaffected";
  clock_.Advance(60s);
  EXPECT_FALSE(LoginOk("bob", bob, "198.51.100.7").empty()) << "a minute later the name may try again";
  // Names that could never be accounts are slowed as one.
  ExpectCredentialFailure(Login("bad name", kPassword, "000000", "198.51.100.7"), "unknown user");
  EXPECT_STATUS_IS(Login("other bad name", kPassword, "000000", "198.51.100.7").status, StatusCode::kTooManyRequests);
}

TEST_F(UserDirectoryTest, OnLockoutIsToldOncePerLockOfAccountsAndUnknownNames) {
  std::vector<std::pair<std::string, std::string>> told;
  UserDirectoryOptions options;
  options.lockout_threshold = 2;
  options.on_lockout = [&](const std::string& name, const std::string& source) { told.emplace_back(name, source); };
  Recreate(options);
  Add("alice");
  Login("alice", "wrong password!", "000000", "192.0.2.1");
  EXPECT_TRUE(told.empty()) << "one failure locks nothing";
  Login("alice", "wrong password!", "000000", "192.0.2.2");
  Login("alice", "wrong password!", "000000", "192.0.2.3");  // already locked: not told again
  Login("ghost", "wrong password!", "000000", "192.0.2.4");
  Login("ghost", "wrong password!", "000000", "192.0.2.5");
  Login("ghost", "wrong password!", "000000", "192.0.2.6");
  Login(std::string(300, 'x'), "wrong password!", "000000", "192.0.2.7");  // never a name: never told
  Login(std::string(300, 'x'), "wrong password!", "000000", "192.0.2.7");
  using Told = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(told, (Told{{"alice", "192.0.2.2"}, {"ghost", "192.0.2.5"}}));
  clock_.Advance(31min);  // the locks expire; locking again tells again
  Login("alice", "wrong password!", "000000", "192.0.2.8");
  Login("alice", "wrong password!", "000000", "192.0.2.8");
  EXPECT_EQ(told.size(), 3u);
}

TEST_F(UserDirectoryTest, OpenIncidentsListLocksAndThrottlesWhileTheyLast) {
  UserDirectoryOptions options;
  options.lockout_threshold = 2;
  options.source_failure_limit = 4;
  Recreate(options);
  Add("alice");
  ASSERT_OK(users_->OpenIncidents());
  EXPECT_TRUE(users_->OpenIncidents()->empty());
  Login("alice", "wrong password!", "000000", "192.0.2.1");
  EXPECT_TRUE(users_->OpenIncidents()->empty()) << "one failure is no incident";
  const auto locked_at = clock_.Now();
  Login("alice", "wrong password!", "000000", "192.0.2.1");  // alice locked
  clock_.Advance(1s);
  Login("ghost", "wrong password!", "000000", "192.0.2.1");
  Login("ghost", "wrong password!", "000000", "192.0.2.1");  // ghost locked, the source throttled
  auto open = users_->OpenIncidents();
  ASSERT_OK(open);
  ASSERT_EQ(open->size(), 3u);
  EXPECT_EQ((*open)[0].kind, LoginIncident::Kind::kAccountLocked);
  EXPECT_EQ((*open)[0].subject, "alice");
  EXPECT_EQ(std::chrono::floor<std::chrono::microseconds>((*open)[0].since),
            std::chrono::floor<std::chrono::microseconds>(locked_at));
  EXPECT_EQ((*open)[1].subject, "ghost");
  EXPECT_EQ((*open)[2].kind, LoginIncident::Kind::kSourceThrottled);
  EXPECT_EQ((*open)[2].subject, "192.0.2.1");
  // The throttle ends with its window, the locks after their 30 minutes.
  clock_.Advance(10min);
  open = users_->OpenIncidents();
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[1].kind, LoginIncident::Kind::kAccountLocked);
  clock_.Advance(20min);
  EXPECT_TRUE(users_->OpenIncidents()->empty());
}

TEST_F(UserDirectoryTest, SessionsExpireWhenIdle) {
  const std::string secret = Add("alice");
  const std::string session = LoginOk("alice", secret);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(14min);
    EXPECT_OK(users_->AuthenticateSession(session)) << "activity keeps it alive, round " << i;
  }
  clock_.Advance(15min + 1s);
  auto expired = users_->AuthenticateSession(session);
  EXPECT_STATUS_IS(expired, StatusCode::kUnauthenticated);
  EXPECT_EQ(expired.status().message(), "session expired");
  EXPECT_EQ(users_->AuthenticateSession(session).status().message(), "invalid session") << "and it is gone";
}

TEST_F(UserDirectoryTest, SessionsEndEightHoursAfterLogin) {
  const std::string secret = Add("alice");
  const std::string session = LoginOk("alice", secret);
  for (int i = 0; i < 48; ++i) {
    clock_.Advance(10min);
    ASSERT_OK(users_->AuthenticateSession(session)) << i;
  }
  clock_.Advance(1s);
  EXPECT_EQ(users_->AuthenticateSession(session).status().message(), "session expired");
}

TEST_F(UserDirectoryTest, LogoutEndsTheSession) {
  const std::string secret = Add("alice");
  const std::string session = LoginOk("alice", secret);
  const std::string other = LoginOk("alice", secret);
  std::string forged = session;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_STATUS_IS(users_->Logout(forged), StatusCode::kNotFound) << "the id alone cannot end a session";
  EXPECT_EQ(users_->AuthenticateSession(forged).status().message(), "invalid session");
  ASSERT_OK(users_->Logout(session));
  EXPECT_EQ(users_->AuthenticateSession(session).status().message(), "invalid session");
  EXPECT_STATUS_IS(users_->Logout(session), StatusCode::kNotFound);
  EXPECT_OK(users_->AuthenticateSession(other));
  for (const char* junk : {"", "aegis_session_", "Bearer x", "aegis_session_0123456789abcdef_short"}) {
    EXPECT_EQ(users_->AuthenticateSession(junk).status().message(), "invalid session") << junk;
  }
}

TEST_F(UserDirectoryTest, DisablingEndsSessionsAndLogins) {
  const std::string secret = Add("alice");
  const std::string bob = Add("bob");
  const std::string session = LoginOk("alice", secret);
  const std::string bob_session = LoginOk("bob", bob);
  ASSERT_OK(users_->DisableUser("alice"));
  EXPECT_EQ(users_->AuthenticateSession(session).status().message(), "invalid session");
  EXPECT_OK(users_->AuthenticateSession(bob_session));
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "account disabled");

  // Disabled behind the directory's back (another process): the session still ends.
  ASSERT_OK(store_->DisableUser("bob"));
  EXPECT_EQ(users_->AuthenticateSession(bob_session).status().message(), "invalid session");
}

TEST_F(UserDirectoryTest, EnablingLetsADisabledUserLogInAgain) {
  const std::string secret = Add("alice");
  ASSERT_OK(users_->DisableUser("alice"));
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "account disabled");
  ASSERT_OK(users_->EnableUser("alice"));
  EXPECT_FALSE(users_->ListUsers()->at(0).disabled);
  EXPECT_FALSE(LoginOk("alice", secret).empty());
  EXPECT_STATUS_IS(users_->EnableUser("carol"), StatusCode::kNotFound);
}

TEST_F(UserDirectoryTest, UnlockingEndsTheLockAndKeepsTheReplayGuard) {
  const std::string secret = Add("alice");
  const std::string used = Code(secret, 1);
  clock_.Advance(30s);
  ASSERT_OK(Login("alice", kPassword, used).status);
  for (int i = 0; i < 10; ++i) Login("alice", "wrong password!", "000000");
  ASSERT_TRUE(store_->GetUser("alice")->locked_until.has_value());
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "account locked");

  ASSERT_OK(users_->UnlockUser("alice"));
  auto stored = store_->GetUser("alice");
  EXPECT_EQ(stored->failed_logins, 0);
  EXPECT_FALSE(stored->locked_until.has_value());
  // The code used before the lock is still spent: unlocking is no replay window.
  ExpectCredentialFailure(Login("alice", kPassword, used), "replayed code");
  ASSERT_OK(users_->UnlockUser("alice"));
  EXPECT_FALSE(LoginOk("alice", secret).empty());
  EXPECT_STATUS_IS(users_->UnlockUser("carol"), StatusCode::kNotFound);
}

TEST_F(UserDirectoryTest, RemovingEndsSessionsAndFreesTheName) {
  const std::string secret = Add("alice", "admin");
  const std::string bob = Add("bob");
  const std::string session = LoginOk("alice", secret);
  const std::string bob_session = LoginOk("bob", bob);
  ASSERT_OK(users_->RemoveUser("alice"));
  EXPECT_EQ(users_->AuthenticateSession(session).status().message(), "invalid session");
  EXPECT_OK(users_->AuthenticateSession(bob_session));
  ASSERT_EQ(users_->ListUsers()->size(), 1u);
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "unknown user");
  EXPECT_STATUS_IS(users_->RemoveUser("alice"), StatusCode::kNotFound);

  // A new account under the old name is a new person: the old secret does not work.
  const std::string fresh = Add("alice", "consumer");
  EXPECT_NE(fresh, secret);
  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", kPassword, Code(secret)), "wrong code");
  EXPECT_FALSE(LoginOk("alice", fresh).empty());
}

TEST_F(UserDirectoryTest, ResetTotpReplacesTheSecretAndEndsSessions) {
  const std::string old_secret = Add("alice");
  const std::string session = LoginOk("alice", old_secret);
  const auto before = store_->GetUser("alice");
  auto reset = users_->ResetTotp("alice");
  ASSERT_OK(reset);
  EXPECT_EQ(reset->record.name, "alice");
  EXPECT_TRUE(reset->totp_uri.starts_with("otpauth://totp/Aegis:alice?secret=")) << reset->totp_uri;
  const size_t begin = reset->totp_uri.find("secret=") + 7;
  const auto fresh = Base32Decode(reset->totp_uri.substr(begin, reset->totp_uri.find('&', begin) - begin));
  ASSERT_TRUE(fresh.has_value());
  EXPECT_NE(*fresh, old_secret);
  EXPECT_EQ(users_->AuthenticateSession(session).status().message(), "invalid session");
  const auto after = store_->GetUser("alice");
  EXPECT_EQ(after->password_hash, before->password_hash) << "the password stays";
  EXPECT_NE(after->totp_secret_wrapped, before->totp_secret_wrapped);

  clock_.Advance(30s);
  ExpectCredentialFailure(Login("alice", kPassword, Code(old_secret)), "wrong code");
  EXPECT_FALSE(LoginOk("alice", *fresh).empty());
  EXPECT_STATUS_IS(users_->ResetTotp("carol").status(), StatusCode::kNotFound);
}

TEST_F(UserDirectoryTest, OldestSessionIsEndedBeyondTheLimit) {
  UserDirectoryOptions options;
  options.max_sessions_per_user = 3;
  Recreate(options);
  const std::string secret = Add("alice");
  const std::string bob = Add("bob");
  const std::string bob_session = LoginOk("bob", bob);
  std::vector<std::string> sessions;
  sessions.reserve(4);
  for (int i = 0; i < 4; ++i) sessions.push_back(LoginOk("alice", secret));
  EXPECT_EQ(users_->AuthenticateSession(sessions[0]).status().message(), "invalid session");
  for (int i = 1; i < 4; ++i) EXPECT_OK(users_->AuthenticateSession(sessions[i])) << i;
  EXPECT_OK(users_->AuthenticateSession(bob_session)) << "per user, not global";
}

// Sessions are kept in the store: a restart does not log everyone out, and
// another server sharing the store honours them (docs/scale-out.md).
TEST_F(UserDirectoryTest, ASessionSurvivesARestartAndWorksOnAnotherServer) {
  const std::string secret = Add("alice");
  const std::string session = LoginOk("alice", secret);
  Recreate();
  auto after_restart = users_->AuthenticateSession(session);
  ASSERT_OK(after_restart);
  EXPECT_EQ(after_restart->name, "user:alice");
  EXPECT_TRUE(after_restart->subject.human);

  auto other = UserDirectory::Create(store_.get(), kek_.get(), clock_, {});
  ASSERT_OK(other);
  EXPECT_OK((*other)->AuthenticateSession(session));
  // The right id with another secret is nobody's session.
  std::string forged = session;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ((*other)->AuthenticateSession(forged).status().message(), "invalid session");

  // A logout on one server ends it on the other once it hears of it.
  ASSERT_OK(users_->Logout(session));
  EXPECT_STATUS_IS(users_->AuthenticateSession(session).status(), StatusCode::kUnauthenticated);
  ASSERT_OK((*other)->DropEndedSessions());
  EXPECT_STATUS_IS((*other)->AuthenticateSession(session).status(), StatusCode::kUnauthenticated);
  EXPECT_STATUS_IS((*other)->Logout(session), StatusCode::kNotFound);
}

// Made-up session tokens cost a store lookup each, so they are capped: a flood
// spends the allowance, a real session from another server then waits for it
// to refill, and sessions this server knows never need it.
TEST_F(UserDirectoryTest, LookupsOfUnknownSessionsAreCapped) {
  const std::string secret = Add("alice");
  const std::string here = LoginOk("alice", secret);
  auto other = std::move(UserDirectory::Create(store_.get(), kek_.get(), clock_, {})).value();
  const std::string there = [&] {
    std::swap(users_, other);
    std::string s = LoginOk("alice", secret);
    std::swap(users_, other);
    return s;
  }();
  for (int i = 0; i < 150; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i);
    EXPECT_EQ(
        users_->AuthenticateSession(std::string("aegis_session_") + id + "_" + std::string(43, 'x')).status().message(),
        "invalid session");
  }
  EXPECT_STATUS_IS(users_->AuthenticateSession(there).status(), StatusCode::kUnauthenticated);
  EXPECT_OK(users_->AuthenticateSession(here));
  clock_.Advance(1s);
  EXPECT_OK(users_->AuthenticateSession(there));
}

TEST_F(UserDirectoryTest, StoredSessionsExpireAndEndWithTheAccountOrItsFactor) {
  const std::string secret = Add("alice");
  const std::string session = LoginOk("alice", secret);
  auto other = std::move(UserDirectory::Create(store_.get(), kek_.get(), clock_, {})).value();
  ASSERT_OK(other->AuthenticateSession(session));
  // Idle for longer than the timeout everywhere: expired on every server.
  clock_.Advance(16min);
  EXPECT_EQ(other->AuthenticateSession(session).status().message(), "session expired");
  EXPECT_STATUS_IS(users_->AuthenticateSession(session).status(), StatusCode::kUnauthenticated);

  // Kept in use on one server: the other judges idleness by the store's last use.
  const std::string busy = LoginOk("alice", secret);
  ASSERT_OK(other->AuthenticateSession(busy));
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(10min);
    ASSERT_OK(users_->AuthenticateSession(busy)) << i;
  }
  EXPECT_OK(other->AuthenticateSession(busy));

  // A TOTP reset through one server ends the session on the other.
  ASSERT_OK(users_->ResetTotp("alice"));
  EXPECT_EQ(other->AuthenticateSession(busy).status().message(), "invalid session");
}

}  // namespace
}  // namespace aegis::auth
