#include "aegis/common/status.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace aegis {
namespace {

StatusOr<std::string> Lookup(bool found) {
  if (!found) return Status::NotFound("no such thing");
  return std::string("thing");
}

TEST(StatusTest, ValueOfSuccess) {
  auto found = Lookup(true);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value(), "thing");
  EXPECT_EQ(*found, "thing");
  EXPECT_EQ(found->size(), 5u);
  EXPECT_EQ(std::move(found).value(), "thing");
}

// Reading the value of an error is a bug that must stop the process in every
// build type, naming the error, instead of reading an empty optional.
TEST(StatusDeathTest, ValueOfErrorAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto missing = Lookup(false);
  ASSERT_FALSE(missing.ok());
  const char* expected = "StatusOr value read on an error: not_found: no such thing";
  EXPECT_DEATH(missing.value(), expected);
  EXPECT_DEATH(*missing, expected);
  EXPECT_DEATH(missing->size(), expected);
  EXPECT_DEATH(Lookup(false).value(), expected);
  auto mutable_missing = Lookup(false);
  EXPECT_DEATH(*mutable_missing = "x", expected);
}

TEST(StatusTest, IgnoreErrorKeepsTheStatus) {
  const Status refused = Status::PermissionDenied("no");
  refused.IgnoreError();
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  Lookup(false).IgnoreError();
}

TEST(StatusTest, WithContextPrefixesErrorsOnly) {
  EXPECT_TRUE(Status::Ok().WithContext("loading").ok());
  const Status s = Status::NotFound("gone").WithContext("model m");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "model m: gone");
}

TEST(StatusTest, DetailSurvivesContextAndNeverMarksSuccess) {
  const Status clash(StatusCode::kAlreadyExists, "taken", ErrorDetail::kUniqueViolation);
  EXPECT_EQ(clash.detail(), ErrorDetail::kUniqueViolation);
  EXPECT_EQ(clash.WithContext("inserting").detail(), ErrorDetail::kUniqueViolation);
  EXPECT_EQ(clash.WithContext("inserting").message(), "inserting: taken");
  EXPECT_EQ(Status::AlreadyExists("taken").detail(), ErrorDetail::kNone);
  EXPECT_EQ(Status(StatusCode::kOk, "", ErrorDetail::kIntegrityFailure).detail(), ErrorDetail::kNone);
  const StatusOr<int> failed = clash;
  EXPECT_EQ(failed.status().detail(), ErrorDetail::kUniqueViolation);
}

}  // namespace
}  // namespace aegis
