// SqliteMetadataStore: the users table.
#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kUserColumns =
    "name, role, models, password_hash, totp_secret_wrapped, kek_id, last_totp_step, failed_logins, locked_until, "
    "disabled, created_at, created_by, rate, burst, quota";

UserRecord ReadUser(const Statement& s) {
  UserRecord u;
  u.name = s.Text(0);
  u.role = s.Text(1);
  u.models = s.Text(2);
  u.password_hash = s.Text(3);
  u.totp_secret_wrapped = s.Blob(4);
  u.kek_id = s.Text(5);
  u.last_totp_step = s.Int(6);
  u.failed_logins = static_cast<int>(s.Int(7));
  u.locked_until = s.OptionalText(8);
  u.disabled = s.Int(9) != 0;
  u.created_at = s.Text(10);
  u.created_by = s.Text(11);
  u.limits = {s.Text(12), static_cast<uint64_t>(s.Int(13)), static_cast<uint64_t>(s.Int(14))};
  return u;
}

std::string UserNotFound(const std::string& name) { return "no user named '" + name + "'"; }

}  // namespace

Status SqliteMetadataStore::PrepareUserStatements() {
  const std::string select = std::string("SELECT ") + kUserColumns + " FROM users";
  AEGIS_RETURN_IF_ERROR(insert_user_.Prepare(db_, (std::string("INSERT INTO users (") + kUserColumns +
                                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                                      .c_str()));
  AEGIS_RETURN_IF_ERROR(get_user_.Prepare(db_, (select + " WHERE name = ?").c_str()));
  AEGIS_RETURN_IF_ERROR(list_users_.Prepare(db_, (select + " ORDER BY name").c_str()));
  AEGIS_RETURN_IF_ERROR(update_login_state_.Prepare(
      db_, "UPDATE users SET last_totp_step = ?, failed_logins = ?, locked_until = ? WHERE name = ?"));
  AEGIS_RETURN_IF_ERROR(disable_user_.Prepare(db_, "UPDATE users SET disabled = 1 WHERE name = ?"));
  AEGIS_RETURN_IF_ERROR(enable_user_.Prepare(db_, "UPDATE users SET disabled = 0 WHERE name = ?"));
  AEGIS_RETURN_IF_ERROR(replace_user_totp_.Prepare(
      db_, "UPDATE users SET totp_secret_wrapped = ?, kek_id = ?, last_totp_step = -1 WHERE name = ?"));
  return delete_user_.Prepare(db_, "DELETE FROM users WHERE name = ?");
}

Status SqliteMetadataStore::InsertUser(const UserRecord& u) {
  std::lock_guard lock(mu_);
  Statement& s = insert_user_;
  s.BindText(1, u.name);
  s.BindText(2, u.role);
  s.BindText(3, u.models);
  s.BindText(4, u.password_hash);
  s.BindBlob(5, u.totp_secret_wrapped);
  s.BindText(6, u.kek_id);
  s.BindInt(7, u.last_totp_step);
  s.BindInt(8, u.failed_logins);
  s.BindOptionalText(9, u.locked_until);
  s.BindInt(10, u.disabled ? 1 : 0);
  s.BindText(11, u.created_at);
  s.BindText(12, u.created_by);
  s.BindText(13, u.limits.rate);
  s.BindInt(14, static_cast<int64_t>(u.limits.burst));
  s.BindInt(15, static_cast<int64_t>(u.limits.quota_per_day));
  Status status = SqliteStatus(db_, s.Step(), "inserting user");
  s.Reset();
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("user '" + u.name + "' already exists");
  return status;
}

StatusOr<UserRecord> SqliteMetadataStore::GetUser(const std::string& name) {
  std::lock_guard lock(mu_);
  get_user_.BindText(1, name);
  return FetchOne<UserRecord>(get_user_, ReadUser, Status::NotFound(UserNotFound(name)), "reading user");
}

StatusOr<std::vector<UserRecord>> SqliteMetadataStore::ListUsers() {
  std::lock_guard lock(mu_);
  return Collect<UserRecord>(list_users_, ReadUser, "listing users");
}

Status SqliteMetadataStore::UpdateUserLoginState(const std::string& name, int64_t last_totp_step, int failed_logins,
                                                 const std::optional<std::string>& locked_until) {
  std::lock_guard lock(mu_);
  Statement& s = update_login_state_;
  s.BindInt(1, last_totp_step);
  s.BindInt(2, failed_logins);
  s.BindOptionalText(3, locked_until);
  s.BindText(4, name);
  return ExecuteOne(s, "updating user login state", UserNotFound(name));
}

Status SqliteMetadataStore::DisableUser(const std::string& name) {
  std::lock_guard lock(mu_);
  disable_user_.BindText(1, name);
  return ExecuteOne(disable_user_, "disabling user", UserNotFound(name));
}

Status SqliteMetadataStore::EnableUser(const std::string& name) {
  std::lock_guard lock(mu_);
  enable_user_.BindText(1, name);
  return ExecuteOne(enable_user_, "enabling user", UserNotFound(name));
}

Status SqliteMetadataStore::ReplaceUserTotp(const std::string& name, const std::vector<uint8_t>& totp_secret_wrapped,
                                            const std::string& kek_id) {
  std::lock_guard lock(mu_);
  Statement& s = replace_user_totp_;
  s.BindBlob(1, totp_secret_wrapped);
  s.BindText(2, kek_id);
  s.BindText(3, name);
  return ExecuteOne(s, "replacing user TOTP secret", UserNotFound(name));
}

Status SqliteMetadataStore::DeleteUser(const std::string& name) {
  std::lock_guard lock(mu_);
  delete_user_.BindText(1, name);
  return ExecuteOne(delete_user_, "deleting user", UserNotFound(name));
}

}  // namespace aegis::store::internal
