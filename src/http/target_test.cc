#include "target.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace aegis::http::internal {
namespace {

TEST(TargetTest, SplitsPathAndQuery) {
  auto t = ParseTarget("/v2/models/m%20x/infer?a=1&b=%2F");
  ASSERT_OK(t);
  EXPECT_EQ(t->path, "/v2/models/m x/infer");
  EXPECT_EQ(t->query, "a=1&b=%2F");
  auto root = ParseTarget("/");
  ASSERT_OK(root);
  EXPECT_EQ(root->path, "/");
  EXPECT_EQ(root->query, "");
}

TEST(TargetTest, RefusesTraversalInAnyEncoding) {
  for (const char* bad :
       {"/../x", "/%2e%2e/x", "/%2E%2E/x", "/a/../b", "/a/..", "/..", "/a/.%2e/b", "/a/..%2fb", "/a%2f..%2fb"}) {
    EXPECT_FALSE(ParseTarget(bad).ok()) << bad;
  }
  // Dots that are not a whole segment are fine.
  EXPECT_OK(ParseTarget("/a/..b/c...d/.x"));
}

TEST(TargetTest, RefusesBadEncodingAndDangerousBytes) {
  for (const char* bad :
       {"", "x", "*", "http://h/x", "/a%", "/a%2", "/a%zz", "/a%00b", "/a%5cb", "/a\\b", "/a%0ab", "/a#frag"}) {
    EXPECT_FALSE(ParseTarget(bad).ok()) << bad;
  }
  EXPECT_STATUS_IS(ParseTarget("/a%00"), StatusCode::kInvalidArgument);
}

TEST(TargetTest, PercentDecodeIsStrict) {
  EXPECT_EQ(PercentDecode("a%41+b", false), "aA+b");
  EXPECT_EQ(PercentDecode("a%41+b", true), "aA b");
  EXPECT_FALSE(PercentDecode("%4", false).has_value());
  EXPECT_FALSE(PercentDecode("%g1", false).has_value());
}

}  // namespace
}  // namespace aegis::http::internal
