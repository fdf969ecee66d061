#include "common/testing/status_matchers.h"

#include <memory>
#include <string>

#include <gtest/gtest-spi.h>

namespace aegis::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

StatusOr<std::string> Value() { return std::string("v"); }
StatusOr<std::string> Missing() { return Status::NotFound("no model x"); }

TEST(StatusMatchersTest, OkPassesForOkStatusAndForAValue) {
  EXPECT_OK(Status::Ok());
  ASSERT_OK(Value());
  EXPECT_THAT(Missing(), Not(IsOk()));
}

TEST(StatusMatchersTest, OkFailureShowsTheCodeAndTheMessage) {
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(Missing()), "not_found: no model x");
  EXPECT_FATAL_FAILURE(ASSERT_OK(Status::PermissionDenied("no grant")), "permission_denied: no grant");
}

TEST(StatusMatchersTest, StatusIsComparesTheCode) {
  EXPECT_STATUS_IS(Missing(), StatusCode::kNotFound);
  EXPECT_STATUS_IS(Status::TooLarge("big"), StatusCode::kTooLarge);
  EXPECT_THAT(Missing(), Not(StatusIs(StatusCode::kInternal)));
  EXPECT_THAT(Value(), Not(StatusIs(StatusCode::kNotFound)));  // a value is OK, not an error
  EXPECT_NONFATAL_FAILURE(EXPECT_STATUS_IS(Missing(), StatusCode::kInternal), "whose code is not_found");
  EXPECT_FATAL_FAILURE(ASSERT_STATUS_IS(Status::Ok(), StatusCode::kInternal), "has the code internal");
}

TEST(StatusMatchersTest, StatusIsWithAMessageMatcher) {
  EXPECT_THAT(Missing(), StatusIs(StatusCode::kNotFound, "no model x"));
  EXPECT_THAT(Missing(), StatusIs(StatusCode::kNotFound, HasSubstr("model")));
  EXPECT_THAT(Missing(), Not(StatusIs(StatusCode::kNotFound, HasSubstr("version"))));
  EXPECT_THAT(Missing(), Not(StatusIs(StatusCode::kInternal, HasSubstr("model"))));
}

TEST(StatusMatchersTest, AssertOkAndAssignMovesTheValueOut) {
  ASSERT_OK_AND_ASSIGN(const std::string value, Value());
  EXPECT_EQ(value, "v");
  std::unique_ptr<int> owned;
  ASSERT_OK_AND_ASSIGN(owned, StatusOr<std::unique_ptr<int>>(std::make_unique<int>(7)));  // move-only
  EXPECT_EQ(*owned, 7);
}

TEST(StatusMatchersTest, AssertOkAndAssignFailsOnAnError) {
  EXPECT_FATAL_FAILURE(
      {
        ASSERT_OK_AND_ASSIGN(const std::string value, Missing());
        (void)value;
      },
      "not_found: no model x");
}

}  // namespace
}  // namespace aegis::testing
