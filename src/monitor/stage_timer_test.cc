#include "aegis/monitor/stage_timer.h"

#include <gtest/gtest.h>

namespace aegis::monitor {
namespace {

using Steady = std::chrono::steady_clock;

// Busy-waits `d` by steady_clock (no sleep: the scheduler would add its own time).
void Spin(std::chrono::nanoseconds d) {
  const auto until = Steady::now() + d;
  while (Steady::now() < until) {
  }
}

TEST(StageTimerTest, LapsAgreeWithSteadyClock) {
  for (auto d : {std::chrono::microseconds(200), std::chrono::microseconds(2000)}) {
    const auto start = Steady::now();
    StageTimer timer;
    Spin(d);
    const auto lap = timer.Lap();
    const auto steady = Steady::now() - start;
    // The lap lies inside the steady span and contains the spin: within those,
    // give or take 2% of scale error and a microsecond of reads.
    EXPECT_GE(lap.count(), 0.98 * static_cast<double>(d.count() * 1000) - 1000) << "tsc=" << internal::Ticks().tsc;
    EXPECT_LE(lap.count(), 1.02 * static_cast<double>(steady.count()) + 1000) << "tsc=" << internal::Ticks().tsc;
  }
}

TEST(StageTimerTest, LapRestartsTheTimer) {
  StageTimer timer;
  Spin(std::chrono::milliseconds(2));
  const auto first = timer.Lap();
  const auto second = timer.Lap();
  EXPECT_GE(first, std::chrono::microseconds(1900));
  EXPECT_LT(second, first);
  EXPECT_GE(second.count(), 0);
}

}  // namespace
}  // namespace aegis::monitor
