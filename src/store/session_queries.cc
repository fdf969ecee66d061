// SqliteMetadataStore and PostgresMetadataStore: the sessions table.
#include "postgres_metadata_store.h"
#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kSessionColumns =
    "id, user_name, secret_hash, factor, role, models, rate, burst, quota, created_ms, last_used_ms";

std::string Columns(const char* before, const char* after) { return before + std::string(kSessionColumns) + after; }

SessionRecord ReadSqliteSession(const Statement& s) {
  return {s.Text(0),
          s.Text(1),
          s.Blob(2),
          s.Text(3),
          s.Text(4),
          s.Text(5),
          {s.Text(6), static_cast<uint64_t>(s.Int(7)), static_cast<uint64_t>(s.Int(8))},
          s.Int(9),
          s.Int(10)};
}

SessionRecord ReadPgSession(const PgResult& r, int row) {
  return {r.Text(row, 0),
          r.Text(row, 1),
          r.Bytes(row, 2),
          r.Text(row, 3),
          r.Text(row, 4),
          r.Text(row, 5),
          {r.Text(row, 6), static_cast<uint64_t>(r.Int(row, 7)), static_cast<uint64_t>(r.Int(row, 8))},
          r.Int(row, 9),
          r.Int(row, 10)};
}

Status SessionClash(const Status& status, const std::string& id) {
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("session " + id + " already exists");
  return status;
}

}  // namespace

Status SqliteMetadataStore::PrepareSessionStatements() {
  AEGIS_RETURN_IF_ERROR(insert_session_.Prepare(
      db_, Columns("INSERT INTO sessions (", ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").c_str()));
  AEGIS_RETURN_IF_ERROR(get_session_.Prepare(db_, Columns("SELECT ", " FROM sessions WHERE id = ?").c_str()));
  AEGIS_RETURN_IF_ERROR(
      touch_session_.Prepare(db_, "UPDATE sessions SET last_used_ms = max(last_used_ms, ?) WHERE id = ?"));
  AEGIS_RETURN_IF_ERROR(delete_session_.Prepare(db_, "DELETE FROM sessions WHERE id = ?"));
  AEGIS_RETURN_IF_ERROR(delete_user_sessions_.Prepare(db_, "DELETE FROM sessions WHERE user_name = ?"));
  AEGIS_RETURN_IF_ERROR(
      delete_expired_sessions_.Prepare(db_, "DELETE FROM sessions WHERE last_used_ms < ? OR created_ms < ?"));
  AEGIS_RETURN_IF_ERROR(
      list_user_sessions_.Prepare(db_, "SELECT id FROM sessions WHERE user_name = ? ORDER BY created_ms, id"));
  return list_session_ids_.Prepare(db_, "SELECT id FROM sessions ORDER BY id");
}

Status SqliteMetadataStore::InsertSession(const SessionRecord& r) {
  std::lock_guard lock(mu_);
  Statement& s = insert_session_;
  s.BindText(1, r.id);
  s.BindText(2, r.user);
  s.BindBlob(3, r.secret_hash);
  s.BindText(4, r.factor);
  s.BindText(5, r.role);
  s.BindText(6, r.models);
  s.BindText(7, r.limits.rate);
  s.BindInt(8, static_cast<int64_t>(r.limits.burst));
  s.BindInt(9, static_cast<int64_t>(r.limits.quota_per_day));
  s.BindInt(10, r.created_ms);
  s.BindInt(11, r.last_used_ms);
  Status status = SqliteStatus(db_, s.Step(), "inserting session");
  s.Reset();
  return SessionClash(status, r.id);
}

StatusOr<SessionRecord> SqliteMetadataStore::GetSession(const std::string& id) {
  std::lock_guard lock(mu_);
  get_session_.BindText(1, id);
  return FetchOne<SessionRecord>(get_session_, ReadSqliteSession, Status::NotFound("no such session"),
                                 "reading session");
}

Status SqliteMetadataStore::TouchSession(const std::string& id, int64_t last_used_ms) {
  std::lock_guard lock(mu_);
  touch_session_.BindInt(1, last_used_ms);
  touch_session_.BindText(2, id);
  return ExecuteOne(touch_session_, "refreshing session", "no such session");
}

Status SqliteMetadataStore::DeleteSession(const std::string& id) {
  std::lock_guard lock(mu_);
  delete_session_.BindText(1, id);
  Status status = SqliteStatus(db_, delete_session_.Step(), "deleting session");
  delete_session_.Reset();
  return status;
}

Status SqliteMetadataStore::DeleteUserSessions(const std::string& user) {
  std::lock_guard lock(mu_);
  delete_user_sessions_.BindText(1, user);
  Status status = SqliteStatus(db_, delete_user_sessions_.Step(), "deleting sessions");
  delete_user_sessions_.Reset();
  return status;
}

Status SqliteMetadataStore::DeleteExpiredSessions(int64_t idle_before_ms, int64_t created_before_ms) {
  std::lock_guard lock(mu_);
  delete_expired_sessions_.BindInt(1, idle_before_ms);
  delete_expired_sessions_.BindInt(2, created_before_ms);
  Status status = SqliteStatus(db_, delete_expired_sessions_.Step(), "deleting expired sessions");
  delete_expired_sessions_.Reset();
  return status;
}

StatusOr<std::vector<std::string>> SqliteMetadataStore::ListUserSessions(const std::string& user) {
  std::lock_guard lock(mu_);
  list_user_sessions_.BindText(1, user);
  return Collect<std::string>(
      list_user_sessions_, [](const Statement& s) { return s.Text(0); }, "listing sessions");
}

StatusOr<std::vector<std::string>> SqliteMetadataStore::ListSessionIds() {
  std::lock_guard lock(mu_);
  return Collect<std::string>(
      list_session_ids_, [](const Statement& s) { return s.Text(0); }, "listing sessions");
}

Status PostgresMetadataStore::InsertSession(const SessionRecord& r) {
  PgParams p;
  p.Text(r.id).Text(r.user).Bytes(r.secret_hash).Text(r.factor).Text(r.role).Text(r.models).Text(r.limits.rate);
  p.Int(static_cast<int64_t>(r.limits.burst)).Int(static_cast<int64_t>(r.limits.quota_per_day));
  p.Int(r.created_ms).Int(r.last_used_ms);
  return SessionClash(
      Execute("inserting session",
              Columns("INSERT INTO sessions (", ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)").c_str(), p),
      r.id);
}

StatusOr<SessionRecord> PostgresMetadataStore::GetSession(const std::string& id) {
  return FetchOne<SessionRecord>("reading session", Columns("SELECT ", " FROM sessions WHERE id = $1").c_str(),
                                 PgParams().Text(id), ReadPgSession, Status::NotFound("no such session"));
}

Status PostgresMetadataStore::TouchSession(const std::string& id, int64_t last_used_ms) {
  return ExecuteOne("refreshing session", "UPDATE sessions SET last_used_ms = greatest(last_used_ms, $1) WHERE id = $2",
                    PgParams().Int(last_used_ms).Text(id), "no such session");
}

Status PostgresMetadataStore::DeleteSession(const std::string& id) {
  return Execute("deleting session", "DELETE FROM sessions WHERE id = $1", PgParams().Text(id));
}

Status PostgresMetadataStore::DeleteUserSessions(const std::string& user) {
  return Execute("deleting sessions", "DELETE FROM sessions WHERE user_name = $1", PgParams().Text(user));
}

Status PostgresMetadataStore::DeleteExpiredSessions(int64_t idle_before_ms, int64_t created_before_ms) {
  return Execute("deleting expired sessions", "DELETE FROM sessions WHERE last_used_ms < $1 OR created_ms < $2",
                 PgParams().Int(idle_before_ms).Int(created_before_ms));
}

StatusOr<std::vector<std::string>> PostgresMetadataStore::ListUserSessions(const std::string& user) {
  return Collect<std::string>("listing sessions",
                              "SELECT id FROM sessions WHERE user_name = $1 ORDER BY created_ms, id COLLATE \"C\"",
                              PgParams().Text(user), [](const PgResult& r, int row) { return r.Text(row, 0); });
}

StatusOr<std::vector<std::string>> PostgresMetadataStore::ListSessionIds() {
  return Collect<std::string>("listing sessions", "SELECT id FROM sessions ORDER BY id COLLATE \"C\"", PgParams(),
                              [](const PgResult& r, int row) { return r.Text(row, 0); });
}

}  // namespace aegis::store::internal
