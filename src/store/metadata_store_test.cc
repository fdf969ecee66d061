#include "aegis/store/metadata_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "aegis/store/artifact_copy.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_pki.h"
#include "pg_test_database.h"
#include "schema.h"
#include "sqlite_util.h"

namespace aegis::store {
namespace {

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// The store's contract, run against both backends: every TEST_P of this
// fixture is one behaviour SQLite and PostgreSQL must share.
class MetadataStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_path_ = dir_ / "db" / "aegis.db";
    if (GetParam() == Backend::kPostgres) pg_ = std::make_unique<testing::PgTestDatabase>();
    auto store = OpenAgain();
    ASSERT_OK(store);
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    pg_.reset();
  }

  // Another connection to the same database (a restart, or another replica).
  StatusOr<std::unique_ptr<MetadataStore>> OpenAgain() {
    if (pg_) return MetadataStore::OpenPostgres(pg_->url(), pg_->password());
    return MetadataStore::Open(db_path_);
  }

  static ModelVersionRecord Record(const std::string& name, const std::string& version) {
    ModelVersionRecord r;
    r.name = name;
    r.version = version;
    r.format = "onnx";
    r.artifact_id =
        std::string(24, 'a') + name.substr(0, 4) + std::string(4 - std::min<size_t>(4, name.size()), 'x') + version;
    r.sha256 = std::string(64, 'f');
    r.size_bytes = 12345678901ULL;
    r.wrapped_dek = {1, 2, 3, 0, 255};
    r.kek_id = "0123456789abcdef";
    r.created_at = "2026-01-02T03:04:05.000006Z";
    r.created_by = "admin";
    return r;
  }

  testing::ScopedTempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
  std::filesystem::path db_path_;
  std::unique_ptr<testing::PgTestDatabase> pg_;
  std::unique_ptr<MetadataStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, MetadataStoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

// What only the SQLite file has: its mode, WAL, PRAGMA user_version migrations.
class SqliteStoreTest : public MetadataStoreTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteStoreTest, ::testing::Values(Backend::kSqlite), BackendName);

TEST_P(SqliteStoreTest, FileModeAndWal) {
  struct stat st {};
  ASSERT_EQ(::stat(db_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK(store_->InsertModelVersion(Record("m", "1")));
  auto wal = db_path_;
  wal += "-wal";
  ASSERT_EQ(::stat(wal.c_str(), &st), 0) << "WAL file missing: journal_mode is not WAL";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(MetadataStoreTest, InsertGetListDelete) {
  ASSERT_OK(store_->InsertModelVersion(Record("zeta", "1")));
  ASSERT_OK(store_->InsertModelVersion(Record("alpha", "2")));
  ASSERT_OK(store_->InsertModelVersion(Record("alpha", "1")));
  ASSERT_OK(store_->InsertModelVersion(Record("zeta", "0")));

  auto got = store_->GetModelVersion("alpha", "2");
  ASSERT_OK(got);
  const auto expected = Record("alpha", "2");
  EXPECT_EQ(got->format, expected.format);
  EXPECT_EQ(got->artifact_id, expected.artifact_id);
  EXPECT_EQ(got->sha256, expected.sha256);
  EXPECT_EQ(got->size_bytes, expected.size_bytes);
  EXPECT_EQ(got->wrapped_dek, expected.wrapped_dek);
  EXPECT_EQ(got->kek_id, expected.kek_id);
  EXPECT_EQ(got->created_at, expected.created_at);
  EXPECT_EQ(got->created_by, expected.created_by);

  auto list = store_->ListModelVersions();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 4u);
  // By name, then push order (not version string order).
  EXPECT_EQ((*list)[0].name + (*list)[0].version, "alpha2");
  EXPECT_EQ((*list)[1].name + (*list)[1].version, "alpha1");
  EXPECT_EQ((*list)[2].name + (*list)[2].version, "zeta1");
  EXPECT_EQ((*list)[3].name + (*list)[3].version, "zeta0");
  EXPECT_LT((*list)[0].sequence, (*list)[1].sequence);

  ASSERT_OK(store_->DeleteModelVersion("alpha", "2"));
  EXPECT_STATUS_IS(store_->DeleteModelVersion("alpha", "2"), StatusCode::kNotFound);
  EXPECT_STATUS_IS(store_->GetModelVersion("alpha", "2"), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListModelVersions()->size(), 3u);
  // Sequence numbers are never reused after a delete; the insert returns the
  // one it assigned.
  auto sequence = store_->InsertModelVersion(Record("alpha", "2"));
  ASSERT_TRUE(sequence.ok());
  EXPECT_GT(*sequence, (*list)[3].sequence);
  EXPECT_EQ(store_->GetModelVersion("alpha", "2")->sequence, *sequence);
}

TEST_P(MetadataStoreTest, DuplicatesAreAlreadyExists) {
  ASSERT_TRUE(store_->InsertModelVersion(Record("m", "1")).ok());
  const Status dup = store_->InsertModelVersion(Record("m", "1")).status();
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message(), "model m version 1 already exists");
  auto same_artifact = Record("m", "2");
  same_artifact.artifact_id = Record("m", "1").artifact_id;
  const Status artifact_clash = store_->InsertModelVersion(same_artifact).status();
  EXPECT_EQ(artifact_clash.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(artifact_clash.message(), "artifact " + same_artifact.artifact_id + " is already registered");
  // Both taken: the version is what the pusher needs to hear about.
  EXPECT_EQ(store_->InsertModelVersion(Record("m", "1")).status().message(), "model m version 1 already exists");
  EXPECT_EQ(store_->GetModelVersion("nope", "1").status().code(), StatusCode::kNotFound);
}

// Constraint failures are told apart by SQLite's extended result codes, never
// by its message text.
TEST(SqliteStatusTest, ConstraintsMapToTypedDetails) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  const char* schema =
      "PRAGMA foreign_keys = ON;"
      "CREATE TABLE parent (id TEXT PRIMARY KEY, code TEXT UNIQUE, n INTEGER CHECK (n > 0));"
      "CREATE TABLE child (parent TEXT NOT NULL REFERENCES parent (id));"
      "INSERT INTO parent VALUES ('a', 'x', 1);";
  ASSERT_EQ(sqlite3_exec(db, schema, nullptr, nullptr, nullptr), SQLITE_OK);
  const auto run = [&](const char* sql) {
    return internal::SqliteStatus(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), "t");
  };
  const Status primary = run("INSERT INTO parent VALUES ('a', 'y', 1)");
  EXPECT_EQ(primary.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(primary.detail(), ErrorDetail::kPrimaryKeyViolation);
  const Status unique = run("INSERT INTO parent VALUES ('b', 'x', 1)");
  EXPECT_EQ(unique.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(unique.detail(), ErrorDetail::kUniqueViolation);
  const Status foreign = run("INSERT INTO child VALUES ('nobody')");
  EXPECT_EQ(foreign.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(foreign.detail(), ErrorDetail::kForeignKeyViolation);
  const Status check = run("INSERT INTO parent VALUES ('c', 'z', 0)");
  EXPECT_EQ(check.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(check.detail(), ErrorDetail::kConstraintViolation);
  const Status not_null = run("INSERT INTO child VALUES (NULL)");
  EXPECT_EQ(not_null.detail(), ErrorDetail::kConstraintViolation);
  const Status syntax = run("INSERT INTO nowhere VALUES (1)");
  EXPECT_EQ(syntax.code(), StatusCode::kInternal);
  EXPECT_EQ(syntax.detail(), ErrorDetail::kNone);
  EXPECT_TRUE(run("INSERT INTO parent VALUES ('d', 'w', 2)").ok());
  sqlite3_close(db);
}

TEST_P(MetadataStoreTest, HostileStringsAreJustData) {
  auto r = Record("x'); DROP TABLE model_versions;--", "1");
  r.artifact_id = "b";
  ASSERT_OK(store_->InsertModelVersion(r));
  auto got = store_->GetModelVersion(r.name, "1");
  ASSERT_OK(got);
  EXPECT_EQ(got->name, r.name);
  EXPECT_EQ(store_->ListModelVersions()->size(), 1u);
}

TEST_P(MetadataStoreTest, TokensRoundTrip) {
  TokenRecord a{"tok1", "ci", "admin", {9, 8, 7}, "2026-01-01T00:00:00Z", std::nullopt, false};
  TokenRecord b{"tok2", "ops", "admin", std::vector<uint8_t>(32, 0xee), "2026-01-02T00:00:00Z", "2026-02-01T00:00:00Z",
                true};
  ASSERT_OK(store_->InsertToken(a));
  ASSERT_OK(store_->InsertToken(b));
  EXPECT_STATUS_IS(store_->InsertToken(a), StatusCode::kAlreadyExists);
  auto got = store_->GetToken("tok2");
  ASSERT_OK(got);
  EXPECT_EQ(got->name, "ops");
  EXPECT_EQ(got->secret_hash, b.secret_hash);
  EXPECT_EQ(got->expires_at, b.expires_at);
  EXPECT_TRUE(got->revoked);
  auto got_a = store_->GetToken("tok1");
  ASSERT_OK(got_a);
  EXPECT_FALSE(got_a->expires_at.has_value());
  EXPECT_FALSE(got_a->revoked);
  EXPECT_STATUS_IS(store_->GetToken("tok3"), StatusCode::kNotFound);
  auto list = store_->ListTokens();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "tok1");
  EXPECT_EQ((*list)[1].id, "tok2");
}

TEST_P(MetadataStoreTest, ReopenPersistsAndConcurrentUseIsSafe) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) {
        std::string name = "m";  // not "m" + to_string(t): GCC 12 -O3 reports a false -Wrestrict
        name += std::to_string(t);
        EXPECT_OK(store_->InsertModelVersion(Record(name, std::to_string(i))));
        EXPECT_OK(store_->ListModelVersions());
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_OK(store_->InsertToken({"t", "n", "admin", {1}, "now", std::nullopt, false}));
  store_.reset();

  auto reopened = OpenAgain();
  ASSERT_OK(reopened);
  EXPECT_EQ((*reopened)->ListModelVersions()->size(), 100u);
  EXPECT_OK((*reopened)->GetToken("t"));
  EXPECT_OK((*reopened)->GetModelVersion("m3", "24"));
}

TEST_P(SqliteStoreTest, TightensLoosePermissionsOnOpen) {
  store_.reset();
  ASSERT_EQ(::chmod(db_path_.c_str(), 0644), 0);
  auto reopened = MetadataStore::Open(db_path_);
  ASSERT_OK(reopened);
  struct stat st {};
  ASSERT_EQ(::stat(db_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(SqliteStoreTest, RefusesANewerSchema) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto reopened = MetadataStore::Open(db_path_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("newer"), std::string::npos);
}

TEST_P(MetadataStoreTest, SignatureIsStoredWithTheVersion) {
  ModelVersionRecord signed_record = Record("signed", "1");
  signed_record.signature = SignatureRecord{"publisher", std::string(64, 'a'), std::string(64, 'b'), "{\"bundle\":1}"};
  ASSERT_OK(store_->InsertModelVersion(signed_record));
  ASSERT_OK(store_->InsertModelVersion(Record("plain", "1")));
  auto got = store_->GetModelVersion("signed", "1");
  ASSERT_OK(got);
  ASSERT_TRUE(got->signature.has_value());
  EXPECT_EQ(got->signature->signer, "publisher");
  EXPECT_EQ(got->signature->fingerprint, std::string(64, 'a'));
  EXPECT_EQ(got->signature->subject_digest, std::string(64, 'b'));
  EXPECT_EQ(got->signature->bundle, "{\"bundle\":1}");
  auto plain = store_->GetModelVersion("plain", "1");
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->signature.has_value());
}

TEST_P(MetadataStoreTest, TrustedKeysAreUniqueByNameAndKey) {
  TrustedKeyRecord key{"acme", "ecdsa-p256", std::string(64, 'c'), "PEM", "fraud-*", "t", "admin"};
  ASSERT_OK(store_->InsertTrustedKey(key));
  TrustedKeyRecord same_name = key;
  same_name.fingerprint = std::string(64, 'd');
  auto clash = store_->InsertTrustedKey(same_name);
  EXPECT_STATUS_IS(clash, StatusCode::kAlreadyExists);
  EXPECT_NE(clash.message().find("named 'acme'"), std::string::npos) << clash.message();
  TrustedKeyRecord same_key = key;
  same_key.name = "other";
  clash = store_->InsertTrustedKey(same_key);
  EXPECT_EQ(clash.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(clash.message(), "this public key is already trusted under another name");

  TrustedKeyRecord second{"beta", "ed25519", std::string(64, 'e'), "PEM2", "*", "t", "admin"};
  ASSERT_OK(store_->InsertTrustedKey(second));
  auto keys = store_->ListTrustedKeys();
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].name, "acme");
  EXPECT_EQ((*keys)[0].models, "fraud-*");
  EXPECT_EQ((*keys)[1].key_type, "ed25519");
  ASSERT_OK(store_->DeleteTrustedKey("acme"));
  EXPECT_STATUS_IS(store_->DeleteTrustedKey("acme"), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListTrustedKeys()->size(), 1u);
}

// A database written by the first release (schema 1) gains the signature columns
// and the trust store, and its rows read back as unsigned versions.
TEST_P(SqliteStoreTest, MigratesASchemaOneDatabase) {
  store_.reset();
  const auto old_path = dir_ / "old.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  const char* v1 =
      "CREATE TABLE model_versions (sequence INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version TEXT "
      "NOT NULL, format TEXT NOT NULL, artifact_id TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, size_bytes INTEGER "
      "NOT NULL, wrapped_dek BLOB NOT NULL, kek_id TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT "
      "NULL, UNIQUE (name, version)) STRICT;"
      "CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, secret_hash BLOB NOT NULL, "
      "created_at TEXT NOT NULL, expires_at TEXT, revoked INTEGER NOT NULL DEFAULT 0) STRICT;"
      "INSERT INTO model_versions (name, version, format, artifact_id, sha256, size_bytes, wrapped_dek, kek_id, "
      "created_at, created_by) VALUES ('m', '1', 'onnx', 'abc', 'ff', 1, x'00', 'k', 't', 'admin');"
      "PRAGMA user_version = 1;";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto reopened = MetadataStore::Open(old_path);
  ASSERT_OK(reopened);
  auto record = (*reopened)->GetModelVersion("m", "1");
  ASSERT_OK(record);
  EXPECT_FALSE(record->signature.has_value());
  EXPECT_TRUE((*reopened)->ListTrustedKeys()->empty());
}

TEST_P(MetadataStoreTest, TokensCarryModelsAndIssuerAndCanBeRevoked) {
  TokenRecord scoped{"tok1", "ci", "deployer", {1, 2}, "2026-01-01T00:00:00Z", std::nullopt, false};
  scoped.models = "fraud-*";
  scoped.created_by = "user:alice";
  TokenRecord plain{"tok2", "ops", "admin", {3}, "2026-01-01T00:00:00Z", std::nullopt, false};
  ASSERT_OK(store_->InsertToken(scoped));
  ASSERT_OK(store_->InsertToken(plain));
  auto got = store_->GetToken("tok1");
  ASSERT_OK(got);
  EXPECT_EQ(got->models, "fraud-*");
  EXPECT_EQ(got->created_by, "user:alice");
  EXPECT_EQ(store_->GetToken("tok2")->models, "*");

  ASSERT_OK(store_->RevokeToken("tok1"));
  EXPECT_TRUE(store_->GetToken("tok1")->revoked);
  EXPECT_OK(store_->RevokeToken("tok1")) << "revoking twice is not an error";
  EXPECT_FALSE(store_->GetToken("tok2")->revoked);
  EXPECT_STATUS_IS(store_->RevokeToken("nope"), StatusCode::kNotFound);
  auto list = store_->ListTokens();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].created_by, "user:alice");
  EXPECT_TRUE((*list)[0].revoked);
}

TEST_P(MetadataStoreTest, CredentialsCarryTheirOwnLimits) {
  TokenRecord limited{"tok1", "ci", "scorer", {1}, "2026-01-01T00:00:00Z", std::nullopt, false};
  limited.limits = {"600/m", 50, 100000};
  TokenRecord plain{"tok2", "ops", "admin", {3}, "2026-01-01T00:00:00Z", std::nullopt, false};
  ASSERT_OK(store_->InsertToken(limited));
  ASSERT_OK(store_->InsertToken(plain));
  EXPECT_EQ(store_->GetToken("tok1")->limits, (RequestLimits{"600/m", 50, 100000}));
  EXPECT_EQ(store_->GetToken("tok2")->limits, RequestLimits{}) << "no limits of its own: the defaults";
  EXPECT_EQ((*store_->ListTokens())[0].limits.rate, "600/m");
}

UserRecord User(const std::string& name) {
  UserRecord u;
  u.name = name;
  u.role = "deployer";
  u.models = "fraud-*";
  u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  u.totp_secret_wrapped = {7, 0, 7, 255};
  u.kek_id = "0123456789abcdef";
  u.created_at = "2026-01-01T00:00:00Z";
  u.created_by = "user:root";
  u.limits = {"10/s", 20, 0};
  return u;
}

TEST_P(MetadataStoreTest, UsersRoundTrip) {
  ASSERT_OK(store_->InsertUser(User("zoe")));
  ASSERT_OK(store_->InsertUser(User("alice")));
  const Status dup = store_->InsertUser(User("alice"));
  EXPECT_STATUS_IS(dup, StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message(), "user 'alice' already exists");

  auto got = store_->GetUser("alice");
  ASSERT_OK(got);
  const UserRecord expected = User("alice");
  EXPECT_EQ(got->role, expected.role);
  EXPECT_EQ(got->models, expected.models);
  EXPECT_EQ(got->password_hash, expected.password_hash);
  EXPECT_EQ(got->totp_secret_wrapped, expected.totp_secret_wrapped);
  EXPECT_EQ(got->kek_id, expected.kek_id);
  EXPECT_EQ(got->limits, expected.limits);
  EXPECT_EQ(got->last_totp_step, -1);
  EXPECT_EQ(got->failed_logins, 0);
  EXPECT_FALSE(got->locked_until.has_value());
  EXPECT_FALSE(got->disabled);
  EXPECT_EQ(got->created_at, expected.created_at);
  EXPECT_EQ(got->created_by, expected.created_by);
  EXPECT_STATUS_IS(store_->GetUser("bob"), StatusCode::kNotFound);

  auto list = store_->ListUsers();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].name, "zoe");
}

TEST_P(MetadataStoreTest, UserLoginStateIsUpdatedAndCleared) {
  ASSERT_OK(store_->InsertUser(User("alice")));
  ASSERT_OK(store_->InsertUser(User("bob")));
  ASSERT_OK(store_->UpdateUserLoginState("alice", 12345, 10, "2026-01-01T00:30:00Z"));
  auto got = store_->GetUser("alice");
  ASSERT_OK(got);
  EXPECT_EQ(got->last_totp_step, 12345);
  EXPECT_EQ(got->failed_logins, 10);
  EXPECT_EQ(got->locked_until, "2026-01-01T00:30:00Z");
  EXPECT_EQ(store_->GetUser("bob")->failed_logins, 0) << "other users are untouched";

  ASSERT_OK(store_->UpdateUserLoginState("alice", 12346, 0, std::nullopt));
  got = store_->GetUser("alice");
  EXPECT_EQ(got->last_totp_step, 12346);
  EXPECT_EQ(got->failed_logins, 0);
  EXPECT_FALSE(got->locked_until.has_value());
  EXPECT_STATUS_IS(store_->UpdateUserLoginState("nobody", 1, 0, std::nullopt), StatusCode::kNotFound);
}

TEST_P(MetadataStoreTest, DisableUserIsIdempotent) {
  ASSERT_OK(store_->InsertUser(User("alice")));
  ASSERT_OK(store_->InsertUser(User("bob")));
  ASSERT_OK(store_->DisableUser("alice"));
  EXPECT_TRUE(store_->GetUser("alice")->disabled);
  EXPECT_OK(store_->DisableUser("alice"));
  EXPECT_FALSE(store_->GetUser("bob")->disabled);
  EXPECT_STATUS_IS(store_->DisableUser("nobody"), StatusCode::kNotFound);
}

TEST_P(MetadataStoreTest, EnableReplaceTotpAndDeleteUser) {
  UserRecord alice = User("alice");
  alice.last_totp_step = 1234;
  ASSERT_OK(store_->InsertUser(alice));
  ASSERT_OK(store_->InsertUser(User("bob")));
  ASSERT_OK(store_->DisableUser("alice"));
  ASSERT_OK(store_->EnableUser("alice"));
  EXPECT_FALSE(store_->GetUser("alice")->disabled);
  EXPECT_OK(store_->EnableUser("alice"));
  EXPECT_STATUS_IS(store_->EnableUser("nobody"), StatusCode::kNotFound);

  const std::vector<uint8_t> fresh{9, 8, 7};
  ASSERT_OK(store_->ReplaceUserTotp("alice", fresh, "kek-2"));
  auto replaced = store_->GetUser("alice");
  ASSERT_OK(replaced.status());
  EXPECT_EQ(replaced->totp_secret_wrapped, fresh);
  EXPECT_EQ(replaced->kek_id, "kek-2");
  EXPECT_EQ(replaced->last_totp_step, -1);  // the new secret's steps start afresh
  EXPECT_NE(store_->GetUser("bob")->totp_secret_wrapped, fresh);
  EXPECT_STATUS_IS(store_->ReplaceUserTotp("nobody", fresh, "kek-2"), StatusCode::kNotFound);

  ASSERT_OK(store_->DeleteUser("alice"));
  EXPECT_STATUS_IS(store_->GetUser("alice").status(), StatusCode::kNotFound);
  EXPECT_STATUS_IS(store_->DeleteUser("alice"), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListUsers()->size(), 1u);
  ASSERT_OK(store_->InsertUser(User("alice")));  // the name is free again
}

TEST_P(MetadataStoreTest, UsersTableRefusesNonsense) {
  UserRecord not_argon = User("mallory");
  not_argon.password_hash = "$2b$12$bcrypt";
  EXPECT_STATUS_IS(store_->InsertUser(not_argon), StatusCode::kInvalidArgument);
  UserRecord negative = User("mallory");
  negative.failed_logins = -1;
  EXPECT_STATUS_IS(store_->InsertUser(negative), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(store_->InsertUser(User("")), StatusCode::kInvalidArgument);
  ASSERT_OK(store_->InsertUser(User("x'); DROP TABLE users;--")));
  EXPECT_EQ(store_->ListUsers()->size(), 1u);
}

// A schema-2 database (trust store, no users, tokens without models/created_by)
// gains the users table; its tokens keep full scope and an unknown issuer.
TEST_P(SqliteStoreTest, MigratesASchemaTwoDatabase) {
  store_.reset();
  const auto old_path = dir_ / "v2.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  const char* v2 =
      "CREATE TABLE model_versions (sequence INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version TEXT "
      "NOT NULL, format TEXT NOT NULL, artifact_id TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, size_bytes INTEGER "
      "NOT NULL CHECK (size_bytes >= 0), wrapped_dek BLOB NOT NULL, kek_id TEXT NOT NULL, created_at TEXT NOT NULL, "
      "created_by TEXT NOT NULL, UNIQUE (name, version)) STRICT;"
      "CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, secret_hash BLOB NOT NULL, "
      "created_at TEXT NOT NULL, expires_at TEXT, revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))) "
      "STRICT;"
      "ALTER TABLE model_versions ADD COLUMN signer TEXT;"
      "ALTER TABLE model_versions ADD COLUMN signer_fingerprint TEXT;"
      "ALTER TABLE model_versions ADD COLUMN subject_digest TEXT;"
      "ALTER TABLE model_versions ADD COLUMN signature_bundle TEXT;"
      "CREATE TABLE trusted_keys (name TEXT PRIMARY KEY, key_type TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE, "
      "public_key_pem TEXT NOT NULL, models TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL) "
      "STRICT;"
      "INSERT INTO tokens (id, name, role, secret_hash, created_at, expires_at, revoked) VALUES "
      "('old', 'admin', 'admin', x'0102', '2025-01-01T00:00:00Z', NULL, 0);"
      "INSERT INTO trusted_keys VALUES ('acme', 'ed25519', 'ff', 'PEM', '*', 't', 'admin');"
      "PRAGMA user_version = 2;";
  ASSERT_EQ(sqlite3_exec(db, v2, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto reopened = MetadataStore::Open(old_path);
  ASSERT_OK(reopened);
  MetadataStore& store = **reopened;
  auto token = store.GetToken("old");
  ASSERT_OK(token);
  EXPECT_EQ(token->models, "*");
  EXPECT_EQ(token->created_by, "");
  EXPECT_EQ(token->secret_hash, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(token->limits, RequestLimits{}) << "an old token keeps the server's defaults";
  EXPECT_EQ(store.ListTrustedKeys()->size(), 1u);
  EXPECT_TRUE(store.ListUsers()->empty());
  ASSERT_OK(store.InsertUser(User("alice")));
  ASSERT_OK(store.RevokeToken("old"));
  reopened->reset();

  // Reopening a migrated database is a no-op at the current version.
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), internal::kSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  auto again = MetadataStore::Open(old_path);
  ASSERT_OK(again);
  EXPECT_OK((*again)->GetUser("alice"));
  EXPECT_TRUE((*again)->GetToken("old")->revoked);
}

IncidentRecord Incident(const std::string& id_char, const std::string& kind = "brute_force") {
  IncidentRecord r;
  r.id = std::string(32, id_char[0]);
  r.kind = kind;
  r.severity = "high";
  r.principal = "user:alice";
  r.source = "192.0.2.7";
  r.first_seen = r.last_seen = "2026-01-02T03:04:05.000Z";
  r.evidence = R"({"failures":"10"})";
  return r;
}

TEST_P(MetadataStoreTest, IncidentsInsertUpdateGetList) {
  ASSERT_OK(store_->InsertIncident(Incident("a")));
  ASSERT_OK(store_->InsertIncident(Incident("b", "engine_crash")));
  EXPECT_EQ(store_->InsertIncident(Incident("a")).code(), StatusCode::kAlreadyExists);

  auto got = store_->GetIncident(std::string(32, 'a'));
  ASSERT_OK(got);
  EXPECT_EQ(got->kind, "brute_force");
  EXPECT_EQ(got->severity, "high");
  EXPECT_EQ(got->principal, "user:alice");
  EXPECT_EQ(got->source, "192.0.2.7");
  EXPECT_EQ(got->count, 1);
  EXPECT_EQ(got->state, "open");
  EXPECT_EQ(got->evidence, R"({"failures":"10"})");
  EXPECT_TRUE(got->actions.empty());

  IncidentRecord changed = *got;
  changed.count = 7;
  changed.last_seen = "2026-01-02T04:00:00.000Z";
  changed.state = "resolved";
  changed.note = "<b>rotated</b> the password";
  ASSERT_OK(store_->UpdateIncident(changed));
  got = store_->GetIncident(changed.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->count, 7);
  EXPECT_EQ(got->state, "resolved");
  EXPECT_EQ(got->note, "<b>rotated</b> the password") << "a note is data, stored as given";
  EXPECT_EQ(got->first_seen, "2026-01-02T03:04:05.000Z") << "first_seen never changes";

  auto all = store_->ListIncidents(std::nullopt, 100);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, std::string(32, 'b')) << "newest first";
  auto resolved = store_->ListIncidents(std::string("resolved"), 100);
  ASSERT_OK(resolved);
  ASSERT_EQ(resolved->size(), 1u);
  EXPECT_EQ((*resolved)[0].id, std::string(32, 'a'));
  EXPECT_EQ(store_->ListIncidents(std::nullopt, 1)->size(), 1u) << "the limit holds";

  EXPECT_EQ(store_->GetIncident(std::string(32, 'c')).status().code(), StatusCode::kNotFound);
  IncidentRecord missing = Incident("c");
  EXPECT_EQ(store_->UpdateIncident(missing).code(), StatusCode::kNotFound);
}

TEST_P(MetadataStoreTest, IncidentsRefuseValuesOutsideTheVocabulary) {
  IncidentRecord r = Incident("a");
  r.kind = "made_up";
  EXPECT_EQ(store_->InsertIncident(r).code(), StatusCode::kInvalidArgument);
  r = Incident("a");
  r.severity = "urgent";
  EXPECT_EQ(store_->InsertIncident(r).code(), StatusCode::kInvalidArgument);
  r = Incident("a");
  r.state = "closed";
  EXPECT_EQ(store_->InsertIncident(r).code(), StatusCode::kInvalidArgument);
  r = Incident("a");
  r.id = "short";
  EXPECT_EQ(store_->InsertIncident(r).code(), StatusCode::kInvalidArgument);
  r = Incident("a");
  r.evidence = std::string(kMaxIncidentEvidence + 1, 'x');
  EXPECT_EQ(store_->InsertIncident(r).code(), StatusCode::kInvalidArgument);
  r.evidence = std::string(kMaxIncidentEvidence, 'x');
  EXPECT_OK(store_->InsertIncident(r));
  r.evidence = std::string(kMaxIncidentEvidence + 1, 'x');
  EXPECT_EQ(store_->UpdateIncident(r).code(), StatusCode::kInvalidArgument);
}

TEST_P(MetadataStoreTest, IncidentActionsAreOrderedAndBounded) {
  ASSERT_OK(store_->InsertIncident(Incident("a")));
  const std::string id(32, 'a');
  ASSERT_OK(store_->AppendIncidentAction(id, {"suspend", "2026-01-02T03:04:06.000Z", "suspended user:alice"}));
  ASSERT_OK(store_->AppendIncidentAction(id, {"alert", "2026-01-02T03:04:07.000Z", "not available in this build"}));
  auto got = store_->GetIncident(id);
  ASSERT_OK(got);
  ASSERT_EQ(got->actions.size(), 2u);
  EXPECT_EQ(got->actions[0].action, "suspend");
  EXPECT_EQ(got->actions[0].outcome, "suspended user:alice");
  EXPECT_EQ(got->actions[1].at, "2026-01-02T03:04:07.000Z");
  for (size_t i = 2; i < kMaxIncidentActions; ++i) ASSERT_OK(store_->AppendIncidentAction(id, {"alert", "t", "x"}));
  EXPECT_EQ(store_->AppendIncidentAction(id, {"alert", "t", "x"}).code(), StatusCode::kTooLarge);
  EXPECT_EQ(store_->AppendIncidentAction(std::string(32, 'f'), {"alert", "t", "x"}).code(), StatusCode::kNotFound);
}

TEST_P(MetadataStoreTest, FindUnresolvedIncidentMatchesTheKeyAndSkipsResolved) {
  IncidentRecord a = Incident("a");
  ASSERT_OK(store_->InsertIncident(a));
  auto found = store_->FindUnresolvedIncident("brute_force", "user:alice", "");
  ASSERT_OK(found);
  EXPECT_EQ(found->id, a.id);
  EXPECT_EQ(store_->FindUnresolvedIncident("brute_force", "user:bob", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindUnresolvedIncident("rate_abuse", "user:alice", "").status().code(), StatusCode::kNotFound);
  a.state = "acknowledged";
  ASSERT_OK(store_->UpdateIncident(a));
  EXPECT_OK(store_->FindUnresolvedIncident("brute_force", "user:alice", ""));
  a.state = "resolved";
  ASSERT_OK(store_->UpdateIncident(a));
  EXPECT_EQ(store_->FindUnresolvedIncident("brute_force", "user:alice", "").status().code(), StatusCode::kNotFound);
}

TEST_P(MetadataStoreTest, SuspensionsSurviveReopening) {
  ASSERT_OK(store_->InsertSuspension({"token:ci", "extraction", "2026-01-02T03:04:05.000Z", "system"}));
  ASSERT_OK(store_->InsertSuspension({"user:alice", "by hand", "2026-01-02T03:04:06.000Z", "user:admin"}));
  EXPECT_EQ(store_->InsertSuspension({"token:ci", "again", "t", "system"}).code(), StatusCode::kAlreadyExists);
  store_.reset();
  auto reopened = OpenAgain();
  ASSERT_OK(reopened);
  store_ = std::move(*reopened);
  auto listed = store_->ListSuspensions();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].principal, "token:ci");
  EXPECT_EQ((*listed)[0].created_by, "system");
  EXPECT_EQ((*listed)[1].reason, "by hand");
  ASSERT_OK(store_->DeleteSuspension("token:ci"));
  EXPECT_EQ(store_->DeleteSuspension("token:ci").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListSuspensions()->size(), 1u);
}

TEST_P(MetadataStoreTest, BaselinesAreReplacedBoundedAndSurviveReopening) {
  ASSERT_OK(store_->PutBaseline({"m", "1", {1, 2, 3}, 40, "2026-01-02T03:04:05.000Z", "token:ci"}));
  ASSERT_OK(store_->PutBaseline({"m", "1", {4, 5}, 50, "2026-01-02T03:04:06.000Z", "user:admin"}));
  ASSERT_OK(store_->PutBaseline({"a", "2", {9}, 30, "t", "user:admin"}));
  EXPECT_EQ(store_->PutBaseline({"m", "2", std::vector<uint8_t>(kMaxBaselineBytes + 1), 30, "t", "x"}).code(),
            StatusCode::kTooLarge);
  store_.reset();
  auto reopened = OpenAgain();
  ASSERT_OK(reopened);
  store_ = std::move(*reopened);
  auto got = store_->GetBaseline("m", "1");
  ASSERT_OK(got);
  EXPECT_EQ(got->data, (std::vector<uint8_t>{4, 5}));
  EXPECT_EQ(got->rows, 50);
  EXPECT_EQ(got->created_by, "user:admin");
  auto listed = store_->ListBaselines();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "a");
  ASSERT_OK(store_->DeleteBaseline("m", "1"));
  ASSERT_OK(store_->DeleteBaseline("m", "1"));
  EXPECT_EQ(store_->GetBaseline("m", "1").status().code(), StatusCode::kNotFound);
}

// The encrypted artifact moves whole between a blobs/ file and the store:
// byte for byte, never half (a temporary file renamed into place), bounded.
TEST_P(MetadataStoreTest, ArtifactsMoveWholeBetweenFilesAndTheStore) {
  std::vector<uint8_t> bytes(2 * kMaxArtifactChunkBytes + 12345);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + (i >> 11));
  const auto source = dir_ / "source.blob";
  {
    std::ofstream out(source, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const std::string id(32, 'c');
  ASSERT_OK(UploadArtifact(*store_, id, source));
  EXPECT_EQ(store_->GetArtifactChunk(id, 0)->size(), kMaxArtifactChunkBytes);
  EXPECT_EQ(store_->GetArtifactChunk(id, 2)->size(), 12345u);
  EXPECT_STATUS_IS(store_->GetArtifactChunk(id, 3).status(), StatusCode::kNotFound);

  const auto fetched = dir_ / "fetched.blob";
  EXPECT_STATUS_IS(FetchArtifact(*store_, id, fetched, bytes.size() - 1), StatusCode::kDataLoss);
  EXPECT_FALSE(std::filesystem::exists(fetched));
  ASSERT_OK(FetchArtifact(*store_, id, fetched, bytes.size()));
  std::ifstream in(fetched, std::ios::binary);
  const std::vector<uint8_t> read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(read, bytes);
  struct stat st {};
  ASSERT_EQ(::stat(fetched.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_OK(store_->DeleteArtifact(id));
  ASSERT_OK(store_->DeleteArtifact(id));
  EXPECT_STATUS_IS(store_->GetArtifactChunk(id, 0).status(), StatusCode::kNotFound);
  EXPECT_STATUS_IS(FetchArtifact(*store_, id, dir_ / "gone.blob", bytes.size()), StatusCode::kNotFound);
  // Nothing half-written is left behind by the failed fetches.
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().filename() != "db") left.push_back(entry.path().filename());  // SQLite's own folder
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"fetched.blob", "source.blob"}));
  EXPECT_STATUS_IS(store_->PutArtifactChunk(id, 0, std::vector<uint8_t>(kMaxArtifactChunkBytes + 1)),
                   StatusCode::kTooLarge);
  EXPECT_EQ(store_->KeepsArtifacts(), GetParam() == Backend::kPostgres);
}

TEST_P(MetadataStoreTest, SessionsRoundTripExpireAndEndPerUser) {
  auto session = [](std::string id, std::string user, int64_t created) {
    return SessionRecord{std::move(id), std::move(user), std::vector<uint8_t>(32, 7),
                         "factor",      "auditor",       "*",
                         {"5/s", 5, 0}, created,         created};
  };
  ASSERT_OK(store_->InsertSession(session("00000000000000a1", "alice", 1000)));
  ASSERT_OK(store_->InsertSession(session("00000000000000a2", "alice", 2000)));
  ASSERT_OK(store_->InsertSession(session("00000000000000b1", "bob", 1500)));
  EXPECT_STATUS_IS(store_->InsertSession(session("00000000000000a1", "alice", 3000)), StatusCode::kAlreadyExists);
  EXPECT_STATUS_IS(store_->InsertSession(session("short", "alice", 3000)), StatusCode::kInvalidArgument);
  auto got = store_->GetSession("00000000000000a2");
  ASSERT_OK(got);
  EXPECT_EQ(got->user, "alice");
  EXPECT_EQ(got->secret_hash, std::vector<uint8_t>(32, 7));
  EXPECT_EQ(got->limits, (RequestLimits{"5/s", 5, 0}));
  EXPECT_EQ(got->created_ms, 2000);
  EXPECT_EQ(*store_->ListUserSessions("alice"), (std::vector<std::string>{"00000000000000a1", "00000000000000a2"}));
  // A refresh never goes backwards.
  ASSERT_OK(store_->TouchSession("00000000000000a1", 5000));
  ASSERT_OK(store_->TouchSession("00000000000000a1", 4000));
  EXPECT_EQ(store_->GetSession("00000000000000a1")->last_used_ms, 5000);
  EXPECT_STATUS_IS(store_->TouchSession("0000000000000000", 1), StatusCode::kNotFound);
  // Idle since before 1600 (b1: 1500) or made before 1100 (none left besides a1, refreshed but made at 1000).
  ASSERT_OK(store_->DeleteExpiredSessions(1600, 1100));
  EXPECT_EQ(*store_->ListSessionIds(), (std::vector<std::string>{"00000000000000a2"}));
  ASSERT_OK(store_->DeleteUserSessions("alice"));
  EXPECT_TRUE(store_->ListSessionIds()->empty());
  ASSERT_OK(store_->DeleteSession("00000000000000a2"));
  EXPECT_STATUS_IS(store_->GetSession("00000000000000a2").status(), StatusCode::kNotFound);
}

// What only PostgreSQL has: several replicas on one database, TLS, a server
// that can go away and come back.
// A push that crashed between its upload and its record leaves chunks no
// version references: swept once old by the database's clock, never while a
// push may still be writing them, never when a version references them.
TEST_P(MetadataStoreTest, OrphanedArtifactsAreSweptOnceOld) {
  const std::vector<uint8_t> bytes = {1, 2, 3};
  const std::string old_orphan(32, '1'), fresh_orphan(32, '2');
  ModelVersionRecord recorded = Record("kept", "1");
  recorded.artifact_id = std::string(32, '3');
  for (const std::string& id : {old_orphan, fresh_orphan, recorded.artifact_id}) {
    ASSERT_OK(store_->PutArtifactChunk(id, 0, bytes));
    ASSERT_OK(store_->PutArtifactChunk(id, 1, bytes));
  }
  ASSERT_OK(store_->InsertModelVersion(recorded));
  // Two hours ago, for the old orphan and the recorded version's artifact.
  const std::string backdate = "UPDATE artifact_chunks SET stored_ms = stored_ms - 7200000 WHERE artifact_id IN ('" +
                               old_orphan + "', '" + recorded.artifact_id + "')";
  if (pg_) {
    pg_->Exec(backdate);
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, backdate.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  // A fresh orphan's last chunk is new: its push may still be running.
  auto swept = store_->SweepOrphanedArtifacts(std::chrono::hours(1), 10);
  ASSERT_OK(swept);
  EXPECT_EQ(*swept, 1u);
  EXPECT_STATUS_IS(store_->GetArtifactChunk(old_orphan, 0).status(), StatusCode::kNotFound);
  EXPECT_STATUS_IS(store_->GetArtifactChunk(old_orphan, 1).status(), StatusCode::kNotFound);
  EXPECT_OK(store_->GetArtifactChunk(fresh_orphan, 1).status());
  EXPECT_OK(store_->GetArtifactChunk(recorded.artifact_id, 1).status());
  EXPECT_EQ(*store_->SweepOrphanedArtifacts(std::chrono::hours(1), 10), 0u) << "nothing left to sweep";
  // Once old, the fresh one goes too; the batch bounds each run.
  EXPECT_EQ(*store_->SweepOrphanedArtifacts(std::chrono::milliseconds(-1000), 0), 0u);
  EXPECT_EQ(*store_->SweepOrphanedArtifacts(std::chrono::milliseconds(-1000), 10), 1u);
  EXPECT_STATUS_IS(store_->GetArtifactChunk(fresh_orphan, 0).status(), StatusCode::kNotFound);
  EXPECT_OK(store_->GetArtifactChunk(recorded.artifact_id, 0).status());
}

class PostgresStoreTest : public MetadataStoreTest {};
INSTANTIATE_TEST_SUITE_P(Postgres, PostgresStoreTest, ::testing::Values(Backend::kPostgres), BackendName);

TEST_P(PostgresStoreTest, RefusesANewerSchema) {
  pg_->Exec("UPDATE aegis_schema SET version = 99");
  auto reopened = OpenAgain();
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("newer"), std::string::npos) << reopened.status().message();
}

// Replicas starting together on an empty database: one migrates, the others
// wait for it and find the schema done (nothing created twice, no error).
TEST_P(PostgresStoreTest, ReplicasStartingTogetherMigrateOnce) {
  store_.reset();
  testing::PgTestDatabase fresh;
  std::vector<std::thread> replicas;
  std::vector<Status> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    replicas.emplace_back([&, i] {
      auto opened = MetadataStore::OpenPostgres(fresh.url(), fresh.password());
      results[i] = opened.status();
      if (opened.ok())
        results[i] = (*opened)->InsertToken({"t" + std::to_string(i), "n", "admin", {1}, "now", {}, false});
    });
  }
  for (auto& r : replicas) r.join();
  for (const Status& s : results) EXPECT_OK(s);
  EXPECT_EQ(fresh.Exec("SELECT version FROM aegis_schema"),
            (std::vector<std::vector<std::string>>{{std::to_string(internal::kSchemaVersion)}}));
  EXPECT_EQ(fresh.Exec("SELECT count(*) FROM tokens")[0][0], "4");
}

// The one schema description gives both backends the same tables and columns
// (PostgreSQL adds row_order where SQLite orders by its implicit rowid).
TEST_P(PostgresStoreTest, SchemaMatchesSqliteColumnForColumn) {
  testing::ScopedTempDir dir;
  ASSERT_OK(MetadataStore::Open(dir.path() / "aegis.db"));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "aegis.db").c_str(), &db), SQLITE_OK);
  std::vector<std::string> sqlite_columns;
  {
    internal::Statement tables;
    ASSERT_OK(
        tables.Prepare(db,
                       "SELECT m.name, p.name, p.type, p.\"notnull\" FROM sqlite_schema m, pragma_table_info(m.name) p "
                       "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"));
    while (tables.Step() == SQLITE_ROW) {
      const std::string type = tables.Text(2) == "INTEGER" ? "bigint" : tables.Text(2) == "BLOB" ? "bytea" : "text";
      sqlite_columns.push_back(tables.Text(0) + "." + tables.Text(1) + " " + type + (tables.Int(3) ? " not null" : ""));
    }
    tables.Reset();
  }  // finalized before the connection closes
  sqlite3_close(db);
  std::vector<std::string> pg_columns;
  for (const auto& row :
       pg_->Exec("SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                 "WHERE table_schema = 'public' AND table_name != 'aegis_schema' AND column_name != 'row_order' "
                 "ORDER BY table_name::text COLLATE \"C\", column_name::text COLLATE \"C\"")) {
    pg_columns.push_back(row[0] + "." + row[1] + " " + row[2] + (row[3] == "NO" ? " not null" : ""));
  }
  // SQLite's INTEGER PRIMARY KEY is NOT NULL without saying so.
  for (auto& c : sqlite_columns) {
    if (c == "model_versions.sequence bigint") c += " not null";
  }
  EXPECT_EQ(sqlite_columns, pg_columns);
}

TEST_P(PostgresStoreTest, TextWithANulOrBadUtf8IsRefusedNotCut) {
  TokenRecord token{"tok", std::string("a\0b", 3), "admin", {1}, "now", {}, false};
  EXPECT_STATUS_IS(store_->InsertToken(token), StatusCode::kInvalidArgument);
  token.name = "\xff\xfe";
  EXPECT_STATUS_IS(store_->InsertToken(token), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListTokens()->size(), 0u);
}

TEST_P(PostgresStoreTest, ConnectsOverTlsAndRefusesAnotherCa) {
  auto over_tls = MetadataStore::OpenPostgres(pg_->tls_url(), pg_->password());
  ASSERT_OK(over_tls);
  EXPECT_OK((*over_tls)->ListTokens());
  // A certificate that does not chain to the configured CA: no connection.
  std::string url = pg_->tls_url();
  url = url.substr(0, url.find("sslrootcert=")) + "sslrootcert=" + testing::TestPki::Get().foreign_ca_cert.string();
  auto refused = MetadataStore::OpenPostgres(url, pg_->password());
  EXPECT_STATUS_IS(refused.status(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("certificate"), std::string::npos) << refused.status().message();
}

TEST_P(PostgresStoreTest, AWrongPasswordIsRefusedWithTheReason) {
  auto refused = MetadataStore::OpenPostgres(pg_->url(), std::string("not-the-password"));
  EXPECT_STATUS_IS(refused.status(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("password authentication failed"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("not-the-password"), std::string::npos);
}

// A connection the server dropped fails the statement in flight with
// Unavailable (503 to a client), and a later call reconnects by itself.
TEST_P(PostgresStoreTest, ReconnectsAfterTheServerDropsTheConnection) {
  ASSERT_OK(store_->InsertToken({"before", "n", "admin", {1}, "now", {}, false}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the reconnect back-off
  pg_->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
      "pid != pg_backend_pid()");
  EXPECT_STATUS_IS(store_->ListTokens().status(), StatusCode::kUnavailable);
  auto listed = store_->ListTokens();
  ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), 1u);
  EXPECT_OK(store_->InsertToken({"after", "n", "admin", {1}, "now", {}, false}));
}

// Another server's writes reach this one's feed within a second, named by
// table; a lost feed connection comes back by itself and asks for a full
// refresh (notifications sent meanwhile are lost).
TEST_P(PostgresStoreTest, ChangesReachTheOtherServersFeed) {
  auto other = OpenAgain();
  ASSERT_OK(other);
  std::mutex mu;
  std::vector<uint32_t> seen;
  auto feed = (*other)->WatchChanges(std::chrono::minutes(10), [&](uint32_t tables) {
    std::lock_guard lock(mu);
    seen.push_back(tables);
  });
  ASSERT_OK(feed);
  ASSERT_NE(*feed, nullptr);
  auto wait_for = [&](uint32_t bit, std::chrono::milliseconds within = std::chrono::seconds(1)) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        for (uint32_t t : seen) {
          if ((t & bit) == bit) {
            seen.clear();
            return true;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(kAllChanged)) << "the first refresh";
  ASSERT_OK(store_->InsertToken({"tok", "n", "admin", {1}, "now", {}, false}));
  EXPECT_TRUE(wait_for(kTokensChanged));
  ASSERT_OK(store_->RevokeToken("tok"));
  EXPECT_TRUE(wait_for(kTokensChanged));
  ASSERT_OK(store_->InsertModelVersion(Record("m", "1")));
  EXPECT_TRUE(wait_for(kModelVersionsChanged));
  ASSERT_OK(store_->InsertSuspension({"token:x", "r", "t", "system"}));
  EXPECT_TRUE(wait_for(kSuspensionsChanged));
  ASSERT_OK(store_->InsertTrustedKey({"k", "ed25519", "ff", "pem", "*", "t", "admin"}));
  EXPECT_TRUE(wait_for(kTrustedKeysChanged));
  IncidentRecord incident;
  incident.id = std::string(32, 'e');
  incident.kind = "integrity";
  incident.severity = "critical";
  incident.first_seen = incident.last_seen = "2026-01-02T03:04:05Z";
  ASSERT_OK(store_->InsertIncident(incident));
  EXPECT_TRUE(wait_for(kIncidentsChanged));
  ASSERT_OK(store_->AppendIncidentAction(incident.id, {"withdraw", "2026-01-02T03:04:05Z", "withdrew m/1"}));
  EXPECT_TRUE(wait_for(kIncidentsChanged)) << "a playbook's actions are appended after the incident";
  pg_->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN aegis_changes'");
  // It waits a second before reconnecting.
  EXPECT_TRUE(wait_for(kAllChanged, std::chrono::seconds(5))) << "no refresh after the feed's connection was dropped";
  ASSERT_OK(store_->InsertToken({"tok2", "n", "admin", {1}, "now", {}, false}));
  EXPECT_TRUE(wait_for(kTokensChanged)) << "the feed does not listen again";
  feed->reset();
  // SQLite has one server: no feed.
  auto sqlite = MetadataStore::Open(dir_ / "other.db");
  ASSERT_OK(sqlite);
  auto none = (*sqlite)->WatchChanges(std::chrono::seconds(1), [](uint32_t) {});
  ASSERT_OK(none);
  EXPECT_EQ(*none, nullptr);
}

}  // namespace
}  // namespace aegis::store
