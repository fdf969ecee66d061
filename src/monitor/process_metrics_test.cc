#include "process_metrics.h"

#include <unistd.h>

#include <ctime>

#include <gtest/gtest.h>

namespace aegis::monitor::internal {
namespace {

// A real line's shape (proc(5)), with a command name that holds ") (" and spaces.
constexpr std::string_view kStat =
    "4242 (aegis (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 1000 104857600 2560 "
    "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetricsTest, ParsesTheStatLineAfterTheCommandName) {
  const auto s = ParseProcStat(kStat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);  // (250 + 50) ticks at 100 Hz
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'010.0);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 104857600.0);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 2560.0 * 4096);
}

TEST(ProcessMetricsTest, RefusesWhatIsNotAStatLine) {
  EXPECT_FALSE(ParseProcStat("", 100, 4096, 0));
  EXPECT_FALSE(ParseProcStat("4242 (aegis) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(ParseProcStat("4242 aegis S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50", 100, 4096, 0));
  EXPECT_FALSE(ParseProcStat(kStat, 0, 4096, 0));
}

TEST(ProcessMetricsTest, BootTimeIsTheBtimeLine) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1'700'000'000.0);
  EXPECT_FALSE(ParseBootTime("cpu 1\nxbtime 5\n"));
  EXPECT_FALSE(ParseBootTime("btime soon\n"));
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  const auto s = ReadSelf();
  ASSERT_TRUE(s);
  EXPECT_GT(s->resident_bytes, 0);
  EXPECT_GT(s->virtual_bytes, s->resident_bytes / 2);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(s->start_time_seconds, now + 1);
  EXPECT_GT(s->start_time_seconds, now - 3600) << "this test process started within the hour";
  ASSERT_TRUE(s->open_fds);
  const int fd = ::dup(0);
  const auto more = ReadSelf();
  ::close(fd);
  ASSERT_TRUE(more && more->open_fds);
  EXPECT_EQ(*more->open_fds, *s->open_fds + 1);
}

}  // namespace
}  // namespace aegis::monitor::internal
