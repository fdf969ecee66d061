// GoogleTest matchers for Status and StatusOr, in the manner of Abseil's
// status_matchers, so that a failing check shows the code and the message
// instead of "Value of: s.ok(), Actual: false".
//
//   EXPECT_OK(store->Put(record));                        // a Status or a StatusOr
//   ASSERT_OK_AND_ASSIGN(auto bundle, ParseBundle(json)); // its value, or a fatal failure
//   EXPECT_STATUS_IS(ParseBundle(""), StatusCode::kInvalidArgument);
//   EXPECT_THAT(Find("x"), StatusIs(StatusCode::kNotFound, HasSubstr("x")));
//
// Like any EXPECT/ASSERT, each macro accepts `<< "context"` after it.
//
// Thread-safety: as GoogleTest's own assertions.
#pragma once

#include <ostream>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aegis/common/status.h"

namespace aegis {

// How GoogleTest prints a Status or a StatusOr (found by argument-dependent
// lookup): "not_found: no model x", or "ok".
void PrintTo(const Status& status, std::ostream* os);

template <typename T>
void PrintTo(const StatusOr<T>& status_or, std::ostream* os) {
  if (status_or.ok()) {
    *os << "ok (with a value)";
  } else {
    PrintTo(status_or.status(), os);
  }
}

}  // namespace aegis

namespace aegis::testing {
namespace internal {

inline const Status& StatusOf(const Status& status) { return status; }
template <typename T>
const Status& StatusOf(const StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace internal

// Matches an OK Status, or a StatusOr that holds a value.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const Status& status = internal::StatusOf(arg);
  return status.ok();
}

// Matches a Status or StatusOr whose code is `code`.
MATCHER_P(StatusIs, code, std::string(negation ? "has a code other than " : "has the code ") + StatusCodeName(code)) {
  const Status& status = internal::StatusOf(arg);
  *result_listener << "whose code is " << StatusCodeName(status.code());
  return status.code() == code;
}

// Matches a Status or StatusOr whose code is `code` and whose message matches
// `message` (a string, or a matcher such as HasSubstr("...")).
MATCHER_P2(StatusIs, code, message,
           std::string(negation ? "does not have the code " : "has the code ") + StatusCodeName(code) +
               " and a message that " + ::testing::DescribeMatcher<const std::string&>(message, negation)) {
  const Status& status = internal::StatusOf(arg);
  *result_listener << "whose code is " << StatusCodeName(status.code());
  return status.code() == code && ::testing::ExplainMatchResult(message, status.message(), result_listener);
}

}  // namespace aegis::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::aegis::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::aegis::testing::IsOk())
#define EXPECT_STATUS_IS(expr, code) EXPECT_THAT((expr), ::aegis::testing::StatusIs(code))
#define ASSERT_STATUS_IS(expr, code) ASSERT_THAT((expr), ::aegis::testing::StatusIs(code))

// ASSERT_OK_AND_ASSIGN(lhs, expr): evaluates `expr` (a StatusOr) once; a fatal
// failure unless it holds a value, else moves the value into `lhs`, which may
// declare a variable (`auto key`, `std::string text`) or name one.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  AEGIS_TESTING_ASSIGN_OR_FAIL(AEGIS_TESTING_CONCAT(aegis_testing_status_or_, __LINE__), lhs, expr)
// NOLINTBEGIN(bugprone-macro-parentheses): tmp and lhs are declarators (`auto key`), not expressions
#define AEGIS_TESTING_ASSIGN_OR_FAIL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  ASSERT_OK(tmp);                                    \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
#define AEGIS_TESTING_CONCAT(a, b) AEGIS_TESTING_CONCAT_INNER(a, b)
#define AEGIS_TESTING_CONCAT_INNER(a, b) a##b
