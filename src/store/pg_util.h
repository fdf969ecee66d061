// Small RAII helpers over libpq (internal to src/store): query parameters,
// binary-format results, and a connection that reconnects by itself and maps
// PostgreSQL's SQLSTATEs to Status.
//
// Every query is sent with PQexecParams: values travel as parameters, never
// inside the SQL text. Results are requested in binary format, so bytea comes
// back as raw bytes and integers as big-endian words (no text parsing).
//
// Thread-safety: none; callers serialize access to a PgConnection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "aegis/common/status.h"

namespace aegis::store::internal {

// The parameters of one query, by 1-based position in the order added.
class PgParams {
 public:
  // Sent in binary format with its length: a NUL or invalid UTF-8 inside is
  // refused by the server (InvalidArgument), never silently cut short.
  PgParams& Text(std::string_view value);
  PgParams& OptionalText(const std::optional<std::string>& value);
  PgParams& Bytes(std::span<const uint8_t> value);  // a bytea, sent in binary
  PgParams& Int(int64_t value);

  int size() const { return static_cast<int>(values_.size()); }
  // Arrays for PQexecParams; valid while this object lives and is not changed.
  std::vector<const char*> Values() const;
  const int* Lengths() const { return lengths_.data(); }
  const int* Formats() const { return formats_.data(); }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;  // 0 text, 1 binary
};

// A query's result rows, read column by column (binary format).
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  int rows() const { return PQntuples(result_.get()); }
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t affected() const;

  std::string Text(int row, int column) const;
  std::optional<std::string> OptionalText(int row, int column) const;
  std::vector<uint8_t> Bytes(int row, int column) const;
  // int8, int4 or int2 columns; anything else (or NULL) reads as 0, which the
  // schema's NOT NULL and type declarations rule out.
  int64_t Int(int row, int column) const;
  PGresult* raw() const { return result_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

// Connection settings, already checked by ParseStoreUrl (pg_url.h).
struct PgConnectOptions {
  std::vector<std::pair<std::string, std::string>> keywords;  // for PQconnectdbParams
  std::string display;                                        // the URL without secrets, for messages
};

// Opens a connection with `options` (never expanding a dbname into more
// settings), with notices ("relation already exists, skipping") silenced:
// they are not errors, and libpq's default would print them on stderr. The
// receiver survives PQreset. Null only when out of memory.
PGconn* OpenPgConnection(const PgConnectOptions& options);

// The first line of a libpq message ("no reason given" when empty).
std::string PgFirstLine(const char* message);

class PgConnection {
 public:
  // Connects once; Unavailable with libpq's reason when it cannot.
  static StatusOr<std::unique_ptr<PgConnection>> Connect(PgConnectOptions options);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one parameterized statement. A lost connection is re-established
  // first (at most once a second while the database stays away: callers get
  // Unavailable at once instead of each waiting for a connect timeout).
  StatusOr<PgResult> Exec(std::string_view what, const char* sql, const PgParams& params = {});
  // Runs SQL without parameters (schema, transactions); never for anything
  // user-supplied. Several statements may be separated by semicolons.
  Status ExecScript(std::string_view what, const char* sql);

 private:
  explicit PgConnection(PgConnectOptions options) : options_(std::move(options)) {}
  Status EnsureConnected();
  Status ResultStatus(PGresult* result, std::string_view what);

  PgConnectOptions options_;
  PGconn* conn_ = nullptr;
  std::chrono::steady_clock::time_point last_attempt_{};
  std::string last_error_;  // libpq's reason for the last failed connect
  bool ever_connected_ = false;
  // Between BEGIN and COMMIT/ROLLBACK: a lost connection is not replaced then,
  // since statements on a new one would commit one by one.
  bool in_transaction_ = false;
};

}  // namespace aegis::store::internal
