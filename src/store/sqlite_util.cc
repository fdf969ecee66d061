#include "sqlite_util.h"

namespace aegis::store::internal {

namespace {

// Which constraint refused a row, from SQLite's extended result code.
Status ConstraintStatus(int extended, std::string message) {
  switch (extended) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status(StatusCode::kAlreadyExists, std::move(message), ErrorDetail::kPrimaryKeyViolation);
    case SQLITE_CONSTRAINT_UNIQUE:
      return Status(StatusCode::kAlreadyExists, std::move(message), ErrorDetail::kUniqueViolation);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Status(StatusCode::kInvalidArgument, std::move(message), ErrorDetail::kForeignKeyViolation);
    default:  // CHECK, NOT NULL, a STRICT column's type, ...
      return Status(StatusCode::kInvalidArgument, std::move(message), ErrorDetail::kConstraintViolation);
  }
}

}  // namespace

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  // The extended code names the constraint (UNIQUE, PRIMARY KEY, ...); the
  // message is for people and is never parsed.
  const int extended = db ? sqlite3_extended_errcode(db) : rc;
  switch (rc & 0xff) {  // primary code; extended codes refine it
    case SQLITE_CONSTRAINT:
      return ConstraintStatus(extended, std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::DataLoss(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  sqlite3_free(error);  // the message is also available from sqlite3_errmsg
  return SqliteStatus(db, rc, "sqlite");
}

Status Statement::Prepare(sqlite3* db, const char* sql) {
  return SqliteStatus(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr),
                      "preparing statement");
}

void Statement::BindText(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::BindOptionalText(int index, const std::optional<std::string>& value) {
  if (value) {
    BindText(index, *value);
  } else {
    sqlite3_bind_null(stmt_, index);
  }
}

void Statement::BindBlob(int index, std::span<const uint8_t> value) {
  // A zero-length blob must stay a blob (not NULL): pass a non-null pointer.
  static const uint8_t kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(), value.size(), SQLITE_TRANSIENT);
}

void Statement::BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}

std::optional<std::string> Statement::OptionalText(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return Text(column);
}

std::vector<uint8_t> Statement::Blob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::vector<uint8_t>(data, data + size) : std::vector<uint8_t>();
}

}  // namespace aegis::store::internal
