// Small RAII helpers over the SQLite C API (internal to src/store): a prepared
// statement with typed binds and column reads, and SQLite result codes mapped to
// Status.
//
// Thread-safety: none; callers serialize access to the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "aegis/common/status.h"

namespace aegis::store::internal {

// Maps a SQLite result code to a Status: UNIQUE/PRIMARY KEY violations become
// AlreadyExists, other constraint failures InvalidArgument, each with the
// ErrorDetail that SQLite's extended result code names (kPrimaryKeyViolation,
// kUniqueViolation, kForeignKeyViolation, kConstraintViolation).
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

// Runs SQL without parameters (pragmas, schema); never for anything user-supplied.
Status Exec(sqlite3* db, const char* sql);

class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Status Prepare(sqlite3* db, const char* sql);
  // Bind by 1-based position; statements are reset and cleared before reuse.
  void BindText(int index, std::string_view value);
  void BindOptionalText(int index, const std::optional<std::string>& value);
  void BindBlob(int index, std::span<const uint8_t> value);
  void BindInt(int index, int64_t value);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset();

  std::string Text(int column) const;
  std::optional<std::string> OptionalText(int column) const;
  std::vector<uint8_t> Blob(int column) const;
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace aegis::store::internal
