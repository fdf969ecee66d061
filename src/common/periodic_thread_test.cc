#include "aegis/common/periodic_thread.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace aegis {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// An interval no test waits out: anything that happens sooner was woken.
constexpr auto kNever = std::chrono::hours(1);
// Generous bounds for a loaded machine under ASan.
constexpr auto kPatience = 10s;
constexpr auto kPrompt = 2s;

template <typename Predicate>
bool WaitUntilTrue(Predicate done) {
  const auto until = Steady::now() + kPatience;
  while (!done()) {
    if (Steady::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(PeriodicThreadTest, RunsEveryInterval) {
  std::atomic<int> runs{0};
  PeriodicThread thread(5ms, [&]() noexcept { ++runs; });
  EXPECT_TRUE(WaitUntilTrue([&] { return runs.load() >= 3; }));
}

TEST(PeriodicThreadTest, FirstRunWaitsOneInterval) {
  std::atomic<Steady::rep> first_run{0};  // time_since_epoch of the first run
  const auto start = Steady::now();
  PeriodicThread thread(100ms, [&]() noexcept {
    Steady::rep none = 0;
    first_run.compare_exchange_strong(none, Steady::now().time_since_epoch().count());
  });
  ASSERT_TRUE(WaitUntilTrue([&] { return first_run.load() != 0; }));
  EXPECT_GE(Steady::time_point(Steady::duration(first_run.load())) - start, 100ms);
}

TEST(PeriodicThreadTest, StopWakesASleepingThreadAtOnce) {
  std::atomic<int> runs{0};
  PeriodicThread thread(kNever, [&]() noexcept { ++runs; });
  const auto start = Steady::now();
  thread.Stop();
  EXPECT_LT(Steady::now() - start, kPrompt);
  EXPECT_EQ(runs.load(), 0);
  thread.Stop();  // idempotent
}

TEST(PeriodicThreadTest, DestructorStops) {
  const auto start = Steady::now();
  {
    PeriodicThread thread(kNever, []() noexcept {});
  }
  EXPECT_LT(Steady::now() - start, kPrompt);
}

TEST(PeriodicThreadTest, RunNowRunsBeforeTheInterval) {
  std::atomic<int> runs{0};
  PeriodicThread thread(kNever, [&]() noexcept { ++runs; });
  thread.RunNow();
  EXPECT_TRUE(WaitUntilTrue([&] { return runs.load() == 1; }));
  thread.RunNow();
  EXPECT_TRUE(WaitUntilTrue([&] { return runs.load() == 2; }));
}

// A request made while the callback runs is seen when the run ends, not slept
// through for a whole interval.
TEST(PeriodicThreadTest, RunNowDuringARunIsNotLost) {
  std::atomic<int> runs{0};
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  PeriodicThread thread(kNever, [&]() noexcept {
    if (++runs == 1) {
      entered.set_value();
      released.wait();
    }
  });
  thread.RunNow();
  entered.get_future().wait();
  thread.RunNow();  // while the first run is still in the callback
  release.set_value();
  EXPECT_TRUE(WaitUntilTrue([&] { return runs.load() == 2; }));
}

TEST(PeriodicThreadTest, StopWaitsForTheRunInProgressAndStartsNoOther) {
  std::atomic<int> runs{0};
  std::atomic<bool> finished{false};
  std::promise<void> entered;
  PeriodicThread thread(1ms, [&]() noexcept {
    if (++runs == 1) {
      entered.set_value();
      std::this_thread::sleep_for(50ms);
      finished = true;
    }
  });
  entered.get_future().wait();
  thread.RunNow();  // a pending request does not outlive Stop
  thread.Stop();
  EXPECT_TRUE(finished.load());
  const int after_stop = runs.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runs.load(), after_stop);
}

TEST(PeriodicThreadTest, ConcurrentStopsBothReturnJoined) {
  std::atomic<int> runs{0};
  PeriodicThread thread(1ms, [&]() noexcept { ++runs; });
  std::thread other([&] { thread.Stop(); });
  thread.Stop();
  other.join();
  const int after_stop = runs.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runs.load(), after_stop);
}

}  // namespace
}  // namespace aegis
