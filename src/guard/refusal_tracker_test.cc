#include "aegis/guard/refusal_tracker.h"

#include <gtest/gtest.h>

namespace aegis::guard {
namespace {

using std::chrono::seconds;
const auto kT0 = std::chrono::steady_clock::time_point(seconds(1000));

TEST(RefusalTracker, SaysOncePerWindowAtTheThreshold) {
  RefusalTracker t({.threshold = 3, .window = seconds(60), .max_tracked = 10});
  EXPECT_FALSE(t.Refused("token:a", kT0));
  EXPECT_FALSE(t.Refused("token:a", kT0 + seconds(1)));
  EXPECT_TRUE(t.Refused("token:a", kT0 + seconds(2)));
  EXPECT_FALSE(t.Refused("token:a", kT0 + seconds(3))) << "once per window";
  EXPECT_FALSE(t.Refused("token:b", kT0 + seconds(3))) << "counted per principal";
  // A new window starts the count again.
  EXPECT_FALSE(t.Refused("token:a", kT0 + seconds(61)));
  EXPECT_FALSE(t.Refused("token:a", kT0 + seconds(62)));
  EXPECT_TRUE(t.Refused("token:a", kT0 + seconds(63)));
}

TEST(RefusalTracker, SlowRefusalsNeverReachTheThreshold) {
  RefusalTracker t({.threshold = 3, .window = seconds(60), .max_tracked = 10});
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(t.Refused("token:a", kT0 + seconds(31 * i)));
}

TEST(RefusalTracker, BoundedInPrincipals) {
  RefusalTracker t({.threshold = 2, .window = seconds(60), .max_tracked = 2});
  EXPECT_FALSE(t.Refused("token:a", kT0));
  EXPECT_FALSE(t.Refused("token:b", kT0));
  EXPECT_FALSE(t.Refused("token:c", kT0));
  EXPECT_FALSE(t.Refused("token:c", kT0)) << "not tracked while full";
  EXPECT_TRUE(t.Refused("token:a", kT0 + seconds(1))) << "tracked ones still count";
  // Once their windows end, room is made.
  EXPECT_FALSE(t.Refused("token:c", kT0 + seconds(61)));
  EXPECT_TRUE(t.Refused("token:c", kT0 + seconds(62)));
}

}  // namespace
}  // namespace aegis::guard
