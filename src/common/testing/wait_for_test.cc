#include "common/testing/wait_for.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace aegis::testing {
namespace {

using namespace std::chrono_literals;

TEST(WaitForTest, ReturnsOnceAnotherThreadMakesThePredicateTrue) {
  std::atomic<bool> done{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    done = true;
  });
  EXPECT_TRUE(WaitFor([&] { return done.load(); }));
  setter.join();
}

TEST(WaitForTest, GivesUpAfterTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(WaitFor([] { return false; }, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}

TEST(WaitForTest, DoesNotWaitWhenThePredicateAlreadyHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls > 0; }, 0ms));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace aegis::testing
