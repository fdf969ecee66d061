#include "throttled_warnings.h"

#include <gtest/gtest.h>

namespace aegis::api::internal {
namespace {

TEST(ThrottledWarningsTest, OneLinePerKindPerIntervalCountingTheRest) {
  ThrottledWarnings w(std::chrono::seconds(60));
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  EXPECT_EQ(w.Admit("wrong issuer", t0), 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(w.Admit("wrong issuer", t0 + std::chrono::seconds(i)).has_value());
  // Another kind has its own interval.
  EXPECT_EQ(w.Admit("unknown key id", t0 + std::chrono::seconds(1)), 0u);
  EXPECT_FALSE(w.Admit("wrong issuer", t0 + std::chrono::seconds(59)).has_value());
  // The next line says how many were held back, then counting starts again.
  EXPECT_EQ(w.Admit("wrong issuer", t0 + std::chrono::seconds(60)), 6u);
  EXPECT_FALSE(w.Admit("wrong issuer", t0 + std::chrono::seconds(61)).has_value());
  EXPECT_EQ(w.Admit("wrong issuer", t0 + std::chrono::seconds(200)), 1u);
}

}  // namespace
}  // namespace aegis::api::internal
