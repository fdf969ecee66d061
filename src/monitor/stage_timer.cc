#include "aegis/monitor/stage_timer.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace aegis::monitor::internal {
namespace {

using Steady = std::chrono::steady_clock;

#if defined(__x86_64__)
// CPUID 0x80000007, EDX bit 8: the TSC runs at a constant rate in every P-, C-
// and T-state, so it measures time.
bool HasInvariantTsc() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000, nullptr)) < 0x80000007u) return false;
  __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx);
  return (edx & (1u << 8)) != 0;
}

// A (steady ns, tsc) pair read close together: retried while the two steady
// reads around the TSC read are more than 2 µs apart (preempted).
bool ReadPair(int64_t& ns, uint64_t& tsc) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto before = Steady::now();
    const uint64_t t = __rdtsc();
    const auto after = Steady::now();
    if (after - before < std::chrono::microseconds(2)) {
      ns = std::chrono::duration_cast<std::chrono::nanoseconds>((before + (after - before) / 2).time_since_epoch())
               .count();
      tsc = t;
      return true;
    }
  }
  return false;
}
#endif

TickClock Choose() {
  TickClock clock;
#if defined(__x86_64__)
  if (!HasInvariantTsc()) return clock;
  int64_t ns0 = 0, ns1 = 0;
  uint64_t tsc0 = 0, tsc1 = 0;
  if (!ReadPair(ns0, tsc0)) return clock;
  // 5 ms against steady_clock: the pair reads' error (well under 1 µs) is
  // then below 2e-4 of the scale.
  const auto until = Steady::now() + std::chrono::milliseconds(5);
  while (Steady::now() < until) {
  }
  if (!ReadPair(ns1, tsc1) || tsc1 <= tsc0 || ns1 <= ns0) return clock;
  clock.tsc = true;
  clock.ns_per_tick = static_cast<double>(ns1 - ns0) / static_cast<double>(tsc1 - tsc0);
#endif
  return clock;
}

}  // namespace

const TickClock& Ticks() {
  static const TickClock clock = Choose();
  return clock;
}

}  // namespace aegis::monitor::internal
