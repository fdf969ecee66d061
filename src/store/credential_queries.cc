// SqliteMetadataStore: the tokens and trusted_keys tables.
#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kTokenColumns =
    "id, name, role, secret_hash, created_at, expires_at, revoked, models, created_by, rate, burst, quota";
constexpr const char* kKeyColumns = "name, key_type, fingerprint, public_key_pem, models, created_at, created_by";

TokenRecord ReadToken(const Statement& s) {
  TokenRecord t;
  t.id = s.Text(0);
  t.name = s.Text(1);
  t.role = s.Text(2);
  t.secret_hash = s.Blob(3);
  t.created_at = s.Text(4);
  t.expires_at = s.OptionalText(5);
  t.revoked = s.Int(6) != 0;
  t.models = s.Text(7);
  t.created_by = s.Text(8);
  t.limits = {s.Text(9), static_cast<uint64_t>(s.Int(10)), static_cast<uint64_t>(s.Int(11))};
  return t;
}

TrustedKeyRecord ReadKey(const Statement& s) {
  return TrustedKeyRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6)};
}

}  // namespace

Status SqliteMetadataStore::PrepareCredentialStatements() {
  const std::string token_select = std::string("SELECT ") + kTokenColumns + " FROM tokens";
  AEGIS_RETURN_IF_ERROR(insert_token_.Prepare(
      db_,
      (std::string("INSERT INTO tokens (") + kTokenColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").c_str()));
  AEGIS_RETURN_IF_ERROR(get_token_.Prepare(db_, (token_select + " WHERE id = ?").c_str()));
  AEGIS_RETURN_IF_ERROR(list_tokens_.Prepare(db_, (token_select + " ORDER BY rowid").c_str()));
  AEGIS_RETURN_IF_ERROR(revoke_token_.Prepare(db_, "UPDATE tokens SET revoked = 1 WHERE id = ?"));
  AEGIS_RETURN_IF_ERROR(insert_key_.Prepare(
      db_, (std::string("INSERT INTO trusted_keys (") + kKeyColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)").c_str()));
  AEGIS_RETURN_IF_ERROR(
      list_keys_.Prepare(db_, (std::string("SELECT ") + kKeyColumns + " FROM trusted_keys ORDER BY name").c_str()));
  return delete_key_.Prepare(db_, "DELETE FROM trusted_keys WHERE name = ?");
}

Status SqliteMetadataStore::InsertToken(const TokenRecord& t) {
  std::lock_guard lock(mu_);
  Statement& s = insert_token_;
  s.BindText(1, t.id);
  s.BindText(2, t.name);
  s.BindText(3, t.role);
  s.BindBlob(4, t.secret_hash);
  s.BindText(5, t.created_at);
  s.BindOptionalText(6, t.expires_at);
  s.BindInt(7, t.revoked ? 1 : 0);
  s.BindText(8, t.models);
  s.BindText(9, t.created_by);
  s.BindText(10, t.limits.rate);
  s.BindInt(11, static_cast<int64_t>(t.limits.burst));
  s.BindInt(12, static_cast<int64_t>(t.limits.quota_per_day));
  Status status = SqliteStatus(db_, s.Step(), "inserting token");
  s.Reset();
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("token " + t.id + " already exists");
  return status;
}

StatusOr<TokenRecord> SqliteMetadataStore::GetToken(const std::string& id) {
  std::lock_guard lock(mu_);
  get_token_.BindText(1, id);
  return FetchOne<TokenRecord>(get_token_, ReadToken, Status::NotFound("token not found"), "reading token");
}

StatusOr<std::vector<TokenRecord>> SqliteMetadataStore::ListTokens() {
  std::lock_guard lock(mu_);
  return Collect<TokenRecord>(list_tokens_, ReadToken, "listing tokens");
}

Status SqliteMetadataStore::RevokeToken(const std::string& id) {
  std::lock_guard lock(mu_);
  // Setting 1 again still counts as a changed row, so revoking twice is not NotFound.
  revoke_token_.BindText(1, id);
  return ExecuteOne(revoke_token_, "revoking token", "token not found");
}

Status SqliteMetadataStore::InsertTrustedKey(const TrustedKeyRecord& k) {
  std::lock_guard lock(mu_);
  Statement& s = insert_key_;
  s.BindText(1, k.name);
  s.BindText(2, k.key_type);
  s.BindText(3, k.fingerprint);
  s.BindText(4, k.public_key_pem);
  s.BindText(5, k.models);
  s.BindText(6, k.created_at);
  s.BindText(7, k.created_by);
  Status status = SqliteStatus(db_, s.Step(), "inserting trusted key");
  s.Reset();
  // name is the primary key; fingerprint is the table's one other UNIQUE column.
  if (status.detail() == ErrorDetail::kPrimaryKeyViolation) {
    return Status::AlreadyExists("a trusted key named '" + k.name + "' already exists");
  }
  if (status.detail() == ErrorDetail::kUniqueViolation) {
    return Status::AlreadyExists("this public key is already trusted under another name");
  }
  return status;
}

StatusOr<std::vector<TrustedKeyRecord>> SqliteMetadataStore::ListTrustedKeys() {
  std::lock_guard lock(mu_);
  return Collect<TrustedKeyRecord>(list_keys_, ReadKey, "listing trusted keys");
}

Status SqliteMetadataStore::DeleteTrustedKey(const std::string& name) {
  std::lock_guard lock(mu_);
  delete_key_.BindText(1, name);
  return ExecuteOne(delete_key_, "deleting trusted key", "no trusted key named '" + name + "'");
}

}  // namespace aegis::store::internal
