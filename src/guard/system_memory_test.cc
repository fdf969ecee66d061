#include "aegis/guard/system_memory.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"

namespace aegis::guard {
namespace {

constexpr uint64_t kMiB = 1ull << 20, kGiB = 1ull << 30;

class SystemMemoryTest : public ::testing::Test {
 protected:
  void Write(const std::filesystem::path& rel, const std::string& text) {
    std::filesystem::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  MemorySources Sources() const { return {dir_ / "meminfo", dir_ / "self_cgroup", dir_ / "cgroup"}; }
  testing::ScopedTempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
};

TEST_F(SystemMemoryTest, ReadsMemAvailable) {
  Write("meminfo", "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n");
  EXPECT_EQ(AvailableMemory(Sources()), 8000000ull * 1024);
}

TEST_F(SystemMemoryTest, ACgroupLimitLowersIt) {
  Write("meminfo", "MemAvailable:    8000000 kB\n");
  Write("self_cgroup", "0::/kubepods/pod1/aegis\n");
  Write("cgroup/kubepods/memory.max", "max\n");
  Write("cgroup/kubepods/pod1/memory.max", std::to_string(3 * kGiB) + "\n");
  Write("cgroup/kubepods/pod1/memory.current", std::to_string(1 * kGiB) + "\n");
  Write("cgroup/kubepods/pod1/aegis/memory.max", "max\n");
  EXPECT_EQ(AvailableMemory(Sources()), 2 * kGiB) << "the pod's headroom, not the host's memory";
}

TEST_F(SystemMemoryTest, UnreadableMeansUnknown) {
  EXPECT_EQ(AvailableMemory(Sources()), std::nullopt);
  Write("meminfo", "MemAvailable: lots\n");
  EXPECT_EQ(AvailableMemory(Sources()), std::nullopt);
}

TEST(BodyBudgetOptionsTest, DerivesAQuarterClampedAndAShare) {
  auto o = BodyBudgetOptions(0, 25, 64 * kMiB, 8 * kGiB);
  EXPECT_EQ(o.total_bytes, 2 * kGiB);
  EXPECT_EQ(o.per_principal_bytes, 512 * kMiB);
  EXPECT_EQ(BodyBudgetOptions(16 * kMiB, 50, kMiB, std::nullopt).per_principal_bytes, 8 * kMiB) << "no rounding down";
  EXPECT_EQ(BodyBudgetOptions(0, 25, 64 * kMiB, 1 * kMiB).total_bytes, kMinBodyBudget);
  EXPECT_EQ(BodyBudgetOptions(0, 25, 64 * kMiB, 1024 * kGiB).total_bytes, kMaxBodyBudget);
  EXPECT_EQ(BodyBudgetOptions(0, 25, 64 * kMiB, std::nullopt).total_bytes, kFallbackBodyBudget);
}

TEST(BodyBudgetOptionsTest, ConfiguredTotalWinsAndOneLargestBodyAlwaysFits) {
  auto o = BodyBudgetOptions(100 * kMiB, 10, 64 * kMiB, 8 * kGiB);
  EXPECT_EQ(o.total_bytes, 100 * kMiB);
  EXPECT_EQ(o.per_principal_bytes, 64 * kMiB) << "10% would refuse every body over 10 MiB for ever";
  o = BodyBudgetOptions(10 * kMiB, 10, 64 * kMiB, 8 * kGiB);
  EXPECT_EQ(o.per_principal_bytes, 10 * kMiB) << "but never more than the total";
}

}  // namespace
}  // namespace aegis::guard
