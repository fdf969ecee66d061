// How much memory this server may plan with, for the default request-body
// budget: the kernel's estimate of memory available without swapping
// (MemAvailable), lowered to the headroom of every cgroup v2 the process sits
// in (memory.max - memory.current, walking up to the root), since a container's
// limit, not the host's memory, decides when the OOM killer strikes.
//
// Read once at start: the budget is fixed for the life of the server, so that
// it does not shrink under load (the server's own bodies use what it measures).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "aegis/guard/memory_budget.h"

namespace aegis::guard {

// Where the numbers come from (tests point these at fake files).
struct MemorySources {
  std::filesystem::path meminfo = "/proc/meminfo";
  std::filesystem::path self_cgroup = "/proc/self/cgroup";
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
};

// Bytes available now, or nullopt when /proc/meminfo cannot be read.
std::optional<uint64_t> AvailableMemory(const MemorySources& sources = {});

// Bounds of the derived total budget.
inline constexpr uint64_t kMinBodyBudget = 64ull << 20;
inline constexpr uint64_t kMaxBodyBudget = 32ull << 30;
// Used when the machine's memory cannot be read.
inline constexpr uint64_t kFallbackBodyBudget = 256ull << 20;

// The budget for request bodies. `configured_total` 0 means derive it: a quarter
// of `available` (kFallbackBodyBudget when unknown), clamped to [kMin, kMax].
// Each principal gets `principal_percent` of the total, but never less than one
// body at `max_body_bytes` (when the total allows), so that the largest allowed
// request can always be served when the server is otherwise idle.
MemoryBudgetOptions BodyBudgetOptions(uint64_t configured_total, int principal_percent, uint64_t max_body_bytes,
                                      std::optional<uint64_t> available);

}  // namespace aegis::guard
