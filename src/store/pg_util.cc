#include "pg_util.h"

#include <cstring>

#include "aegis/common/log.h"

namespace aegis::store::internal {
namespace {

// Type OIDs of the integer types (pg_type.h is a server header).
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// SQLSTATEs after which the statement may succeed on another try: the
// connection, the server's resources, or a conflict with another transaction.
bool IsTransient(std::string_view state) {
  return StartsWith(state, "08") || StartsWith(state, "53") || StartsWith(state, "57P") || state == "40001" ||
         state == "40P01";
}

int64_t ReadBigEndian(const char* bytes, int length) {
  uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  // Sign-extend the narrower types.
  if (length < 8 && length > 0 && (static_cast<uint8_t>(bytes[0]) & 0x80)) value |= ~uint64_t{0} << (8 * length);
  return static_cast<int64_t>(value);
}

}  // namespace

std::string PgFirstLine(const char* message) {
  std::string line = message ? message : "";
  line = line.substr(0, line.find('\n'));
  return line.empty() ? "no reason given" : line;
}

PGconn* OpenPgConnection(const PgConnectOptions& options) {
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : options.keywords) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (conn)
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
  return conn;
}

PgParams& PgParams::Text(std::string_view value) {
  values_.emplace_back(std::string(value));
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::OptionalText(const std::optional<std::string>& value) {
  if (value) return Text(*value);
  values_.emplace_back(std::nullopt);
  lengths_.push_back(0);
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::Bytes(std::span<const uint8_t> value) {
  values_.emplace_back(std::string(reinterpret_cast<const char*>(value.data()), value.size()));
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Int(int64_t value) {
  // Text format: the server parses it as whatever integer type the statement needs.
  values_.emplace_back(std::to_string(value));
  lengths_.push_back(static_cast<int>(values_.back()->size()));
  formats_.push_back(0);
  return *this;
}

std::vector<const char*> PgParams::Values() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->data() : nullptr);
  return out;
}

int64_t PgResult::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
}

std::string PgResult::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

std::optional<std::string> PgResult::OptionalText(int row, int column) const {
  if (PQgetisnull(result_.get(), row, column)) return std::nullopt;
  return Text(row, column);
}

std::vector<uint8_t> PgResult::Bytes(int row, int column) const {
  const auto* data = reinterpret_cast<const uint8_t*>(PQgetvalue(result_.get(), row, column));
  return {data, data + PQgetlength(result_.get(), row, column)};
}

int64_t PgResult::Int(int row, int column) const {
  if (PQgetisnull(result_.get(), row, column)) return 0;
  const Oid type = PQftype(result_.get(), column);
  const int length = PQgetlength(result_.get(), row, column);
  const bool sized =
      (type == kInt8Oid && length == 8) || (type == kInt4Oid && length == 4) || (type == kInt2Oid && length == 2);
  return sized ? ReadBigEndian(PQgetvalue(result_.get(), row, column), length) : 0;
}

StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(PgConnectOptions options) {
  std::unique_ptr<PgConnection> connection(new PgConnection(std::move(options)));
  if (!connection->EnsureConnected().ok()) {
    // At start-up the one reading this is the operator: say why.
    return Status::Unavailable("cannot connect to the database at " + connection->options_.display + ": " +
                               connection->last_error_);
  }
  return connection;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

Status PgConnection::EnsureConnected() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  if (in_transaction_) return Status::Unavailable("the database connection was lost inside a transaction");
  const auto now = std::chrono::steady_clock::now();
  if (last_attempt_ != std::chrono::steady_clock::time_point{} && now - last_attempt_ < std::chrono::seconds(1)) {
    return Status::Unavailable("the database is unavailable; reconnecting");
  }
  last_attempt_ = now;
  if (conn_) {
    PQreset(conn_);
  } else {
    conn_ = OpenPgConnection(options_);
  }
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
    ever_connected_ = true;
    return Status::Ok();
  }
  // The reason names hosts and users: it goes to the server log, and callers
  // (which may answer an unauthenticated client) get a generic message.
  last_error_ = PgFirstLine(conn_ ? PQerrorMessage(conn_) : "out of memory");
  // The first connect's reason goes back to the operator (Connect); later ones
  // only to the log.
  if (ever_connected_) log::Warn({}, "cannot connect to the database at {}: {}", options_.display, last_error_);
  return Status::Unavailable("the database is unavailable");
}

Status PgConnection::ResultStatus(PGresult* result, std::string_view what) {
  const ExecStatusType state = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (state == PGRES_COMMAND_OK || state == PGRES_TUPLES_OK) return Status::Ok();
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = sqlstate ? sqlstate : "";
  const std::string message = PgFirstLine(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  const std::string context = std::string(what) + ": " + message;
  if (code.empty() || PQstatus(conn_) != CONNECTION_OK || IsTransient(code)) {
    log::Warn({}, "database {} failed: {}", what, message);
    return Status::Unavailable("the database is unavailable");
  }
  if (code == "23505") {
    const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
    const std::string name = constraint ? constraint : "";
    const bool primary = name.size() >= 5 && name.compare(name.size() - 5, 5, "_pkey") == 0;
    return {StatusCode::kAlreadyExists, context,
            primary ? ErrorDetail::kPrimaryKeyViolation : ErrorDetail::kUniqueViolation};
  }
  if (code == "23503") return {StatusCode::kInvalidArgument, context, ErrorDetail::kForeignKeyViolation};
  if (StartsWith(code, "23")) return {StatusCode::kInvalidArgument, context, ErrorDetail::kConstraintViolation};
  // Data exceptions: text that is not valid UTF-8 or holds a NUL, a number out of range.
  if (StartsWith(code, "22")) return Status::InvalidArgument(context);
  return Status::Internal(context + " (SQLSTATE " + code + ")");
}

StatusOr<PgResult> PgConnection::Exec(std::string_view what, const char* sql, const PgParams& params) {
  AEGIS_RETURN_IF_ERROR(EnsureConnected());
  const std::vector<const char*> values = params.Values();
  PgResult result(PQexecParams(conn_, sql, params.size(), /*paramTypes=*/nullptr, values.data(), params.Lengths(),
                               params.Formats(), /*resultFormat=*/1));
  // PgResult owns the PGresult; ResultStatus only reads it.
  AEGIS_RETURN_IF_ERROR(ResultStatus(result.raw(), what));
  return result;
}

Status PgConnection::ExecScript(std::string_view what, const char* sql) {
  const std::string_view statement(sql);
  if (statement == "COMMIT" || statement == "ROLLBACK") {
    const bool lost = in_transaction_ && (!conn_ || PQstatus(conn_) != CONNECTION_OK);
    in_transaction_ = false;
    if (lost) return Status::Unavailable("the database connection was lost inside a transaction");
  }
  AEGIS_RETURN_IF_ERROR(EnsureConnected());
  PgResult result(PQexec(conn_, sql));
  Status status = ResultStatus(result.raw(), what);
  if (statement == "BEGIN" && status.ok()) in_transaction_ = true;
  return status;
}

}  // namespace aegis::store::internal
