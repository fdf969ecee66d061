// StageTimer: time spans for the request path's stage metrics from the
// cheapest monotonic clock the machine has. On x86-64 with an invariant TSC
// (constant rate, not stopped in sleep states) that is RDTSC, scaled by a
// factor measured against steady_clock once per process (~15 ns a read on this
// project's VMs, against ~50 ns for clock_gettime); elsewhere steady_clock.
//
//   StageTimer timer;
//   DoWork();
//   monitor.ObserveStage(Stage::kEngine, timer.Lap());  // and restarts the timer
//
// Thread-safety: a StageTimer belongs to one thread; the clock choice and scale
// are fixed before first use (thread-safe static initialization).
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace aegis::monitor {

namespace internal {
struct TickClock {
  bool tsc = false;  // RDTSC, else steady_clock nanoseconds
  double ns_per_tick = 1.0;
};
// Chosen and calibrated on first use (a few milliseconds, once per process;
// Monitor's constructor makes that first use, before any request).
const TickClock& Ticks();
}  // namespace internal

class StageTimer {
 public:
  StageTimer() : clock_(internal::Ticks()), last_(Read(clock_)) {}

  // Time since construction or the previous Lap.
  std::chrono::nanoseconds Lap() {
    const uint64_t now = Read(clock_);
    const uint64_t ticks = now - last_;
    last_ = now;
    return std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(ticks) * clock_.ns_per_tick));
  }

 private:
  static uint64_t Read(const internal::TickClock& clock) {
#if defined(__x86_64__)
    if (clock.tsc) return __rdtsc();
#endif
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  const internal::TickClock& clock_;
  uint64_t last_;
};

}  // namespace aegis::monitor
