// Status and StatusOr: recoverable errors as values (no exceptions on the data plane).
//
// A Status carries a code, an optional ErrorDetail, and a human-readable message
// that is safe to show a client: it must never contain secrets, key material or
// tensor data. Every code maps onto one HTTP status (see HttpStatusOf; kInternal
// and kDataLoss both give 500), so handlers can return errors unchanged. Programs branch on the code and the
// detail, never on the message.
//
// Both types are [[nodiscard]]: an error is handled or passed on, never dropped by
// accident. Where dropping one is right, say so with IgnoreError() and a comment
// giving the reason. StatusOr's value accessors on an error are a programming
// error: they print the status and abort in every build type.
//
// Thread-safety: value types; safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace aegis {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // 400: malformed input
  kUnauthenticated,   // 401: who are you?
  kPermissionDenied,  // 403: not allowed
  kNotFound,          // 404: unknown model, version or route
  kMethodNotAllowed,  // 405
  kAlreadyExists,     // 409: would overwrite
  kTooLarge,          // 413: body or tensor over the limit
  kUnprocessable,     // 422: well-formed but refused (unsupported model, failed scan)
  kTooManyRequests,   // 429
  kInternal,          // 500: engine failure, unexpected state
  kDataLoss,          // 500: integrity failure (tampered blob, bad tag)
  kUnavailable,       // 503: not ready / shutting down
};

// A finer class of error than the code, for the callers that must treat one
// kind of failure differently (audit it as a denial, name the clashing column).
// Callers test the detail, never the message text, which is for people.
enum class ErrorDetail {
  kNone = 0,
  kIntegrityFailure,     // bytes, signature or scan failed a check: never serve them
  kPrimaryKeyViolation,  // a row with this primary key exists
  kUniqueViolation,      // a UNIQUE constraint other than the primary key clashes
  kForeignKeyViolation,  // a referenced row is missing, or a referencing row remains
  kConstraintViolation,  // another constraint (CHECK, NOT NULL) refused the row
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, ErrorDetail detail = ErrorDetail::kNone)
      : code_(code), detail_(code == StatusCode::kOk ? ErrorDetail::kNone : detail), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status MethodNotAllowed(std::string m) { return {StatusCode::kMethodNotAllowed, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status Unprocessable(std::string m) { return {StatusCode::kUnprocessable, std::move(m)}; }
  static Status TooManyRequests(std::string m) { return {StatusCode::kTooManyRequests, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  ErrorDetail detail() const { return detail_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with context ("loading model x: ..."); keeps the detail.
  Status WithContext(const std::string& context) const {
    return ok() ? *this : Status(code_, context + ": " + message_, detail_);
  }

  // Drops the status on purpose. Every call says in a comment why that is right.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  ErrorDetail detail_ = ErrorDetail::kNone;
  std::string message_;
};

// The HTTP status code for a Status (200 for OK).
int HttpStatusOf(StatusCode code);
// A short stable name ("invalid_argument") for logs and audit events.
const char* StatusCodeName(StatusCode code);

namespace internal {
// Prints `status` to stderr and aborts: a StatusOr's value was read on an error.
[[noreturn]] void DieOnValueOfError(const Status& status);
}  // namespace internal

// Either a value or a non-OK Status. Reading the value of an error aborts.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const T& value) : value_(value) {}             // NOLINT: implicit by design
  StatusOr(T&& value) : value_(std::move(value)) {}       // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "StatusOr built from an OK status without a value");
    if (status_.ok()) status_ = Status::Internal("StatusOr without value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // Drops the result on purpose (see Status::IgnoreError).
  void IgnoreError() const {}
  T& value() & {
    CheckHasValue();
    return *value_;
  }
  const T& value() const& {
    CheckHasValue();
    return *value_;
  }
  T&& value() && {
    CheckHasValue();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void CheckHasValue() const {
    if (!value_.has_value()) internal::DieOnValueOfError(status_);
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace aegis

// Early-return helpers. AEGIS_ASSIGN_OR_RETURN(auto x, Expr()) declares x.
#define AEGIS_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::aegis::Status aegis_status_ = (expr);        \
    if (!aegis_status_.ok()) return aegis_status_; \
  } while (0)

#define AEGIS_CONCAT_INNER(a, b) a##b
#define AEGIS_CONCAT(a, b) AEGIS_CONCAT_INNER(a, b)
#define AEGIS_ASSIGN_OR_RETURN(lhs, expr) \
  AEGIS_ASSIGN_OR_RETURN_IMPL(AEGIS_CONCAT(aegis_statusor_, __LINE__), lhs, expr)
// `tmp` is a name and `lhs` may be a declaration ("auto x"): neither can be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define AEGIS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
