// PostgresMetadataStore: the users table.
#include "postgres_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kUserColumns =
    "name, role, models, password_hash, totp_secret_wrapped, kek_id, last_totp_step, failed_logins, locked_until, "
    "disabled, created_at, created_by, rate, burst, quota";

UserRecord ReadUser(const PgResult& r, int row) {
  UserRecord u;
  u.name = r.Text(row, 0);
  u.role = r.Text(row, 1);
  u.models = r.Text(row, 2);
  u.password_hash = r.Text(row, 3);
  u.totp_secret_wrapped = r.Bytes(row, 4);
  u.kek_id = r.Text(row, 5);
  u.last_totp_step = r.Int(row, 6);
  u.failed_logins = static_cast<int>(r.Int(row, 7));
  u.locked_until = r.OptionalText(row, 8);
  u.disabled = r.Int(row, 9) != 0;
  u.created_at = r.Text(row, 10);
  u.created_by = r.Text(row, 11);
  u.limits = {r.Text(row, 12), static_cast<uint64_t>(r.Int(row, 13)), static_cast<uint64_t>(r.Int(row, 14))};
  return u;
}

std::string UserNotFound(const std::string& name) { return "no user named '" + name + "'"; }

}  // namespace

Status PostgresMetadataStore::InsertUser(const UserRecord& u) {
  PgParams p;
  p.Text(u.name).Text(u.role).Text(u.models).Text(u.password_hash).Bytes(u.totp_secret_wrapped).Text(u.kek_id);
  p.Int(u.last_totp_step).Int(u.failed_logins).OptionalText(u.locked_until).Int(u.disabled ? 1 : 0);
  p.Text(u.created_at).Text(u.created_by).Text(u.limits.rate);
  p.Int(static_cast<int64_t>(u.limits.burst)).Int(static_cast<int64_t>(u.limits.quota_per_day));
  Status status = Execute("inserting user",
                          (std::string("INSERT INTO users (") + kUserColumns +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
                              .c_str(),
                          p);
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("user '" + u.name + "' already exists");
  return status;
}

StatusOr<UserRecord> PostgresMetadataStore::GetUser(const std::string& name) {
  return FetchOne<UserRecord>("reading user",
                              (std::string("SELECT ") + kUserColumns + " FROM users WHERE name = $1").c_str(),
                              PgParams().Text(name), ReadUser, Status::NotFound(UserNotFound(name)));
}

StatusOr<std::vector<UserRecord>> PostgresMetadataStore::ListUsers() {
  return Collect<UserRecord>(
      "listing users", (std::string("SELECT ") + kUserColumns + " FROM users ORDER BY name COLLATE \"C\"").c_str(),
      PgParams(), ReadUser);
}

Status PostgresMetadataStore::UpdateUserLoginState(const std::string& name, int64_t last_totp_step, int failed_logins,
                                                   const std::optional<std::string>& locked_until) {
  return ExecuteOne("updating user login state",
                    "UPDATE users SET last_totp_step = $1, failed_logins = $2, locked_until = $3 WHERE name = $4",
                    PgParams().Int(last_totp_step).Int(failed_logins).OptionalText(locked_until).Text(name),
                    UserNotFound(name));
}

Status PostgresMetadataStore::DisableUser(const std::string& name) {
  return ExecuteOne("disabling user", "UPDATE users SET disabled = 1 WHERE name = $1", PgParams().Text(name),
                    UserNotFound(name));
}

Status PostgresMetadataStore::EnableUser(const std::string& name) {
  return ExecuteOne("enabling user", "UPDATE users SET disabled = 0 WHERE name = $1", PgParams().Text(name),
                    UserNotFound(name));
}

Status PostgresMetadataStore::ReplaceUserTotp(const std::string& name, const std::vector<uint8_t>& totp_secret_wrapped,
                                              const std::string& kek_id) {
  return ExecuteOne("replacing user TOTP secret",
                    "UPDATE users SET totp_secret_wrapped = $1, kek_id = $2, last_totp_step = -1 WHERE name = $3",
                    PgParams().Bytes(totp_secret_wrapped).Text(kek_id).Text(name), UserNotFound(name));
}

Status PostgresMetadataStore::DeleteUser(const std::string& name) {
  return ExecuteOne("deleting user", "DELETE FROM users WHERE name = $1", PgParams().Text(name), UserNotFound(name));
}

}  // namespace aegis::store::internal
