// PeriodicThread: runs a callback on a thread of its own, once every `interval`
// (measured from the end of one run to the start of the next), until stopped.
// The one way Aegis runs background timers (the audit log's re-verification,
// the monitor's ticker, the JWKS refresh), so none of them hand-rolls a thread,
// a condition variable and a stop flag.
//
//   PeriodicThread ticker(std::chrono::seconds(5), [this]() noexcept { Tick(); });
//   ...
//   ticker.RunNow();  // one run as soon as possible, then the interval again
//   ticker.Stop();    // or let the destructor do it
//
// `interval` must be positive. The first run is one interval after construction.
// Stop() wakes the thread at once (a sleeping thread never waits out its
// interval), lets a run in progress finish, and joins; no run starts after Stop()
// returns. A request (RunNow or
// Stop) made while the callback runs is not lost: it is seen as soon as the run
// ends. RunNow requests made before a run starts are coalesced into that run.
//
// The callback must be noexcept (checked at compile time): an exception would
// escape the thread and end the process. It must not call Stop() or destroy its
// PeriodicThread.
//
// Thread-safety: RunNow and Stop are safe from any thread except the callback's
// own (Stop from the callback would wait for itself).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"

namespace aegis {

class PeriodicThread {
 public:
  template <typename Callback>
  PeriodicThread(std::chrono::steady_clock::duration interval, Callback callback)
      : interval_(interval), callback_(std::move(callback)) {
    static_assert(std::is_nothrow_invocable_v<Callback&>, "the callback must be noexcept");
    thread_ = std::thread([this] { Loop(); });
  }
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Wakes the thread for a run now rather than at the end of the interval.
  void RunNow() AEGIS_EXCLUDES(mu_);
  // Wakes the thread, waits for a run in progress, joins. Idempotent.
  void Stop() AEGIS_EXCLUDES(mu_);

 private:
  void Loop() AEGIS_EXCLUDES(mu_);
  // Sleeps until the next run is due or asked for; false when stopping.
  bool AwaitNextRun() AEGIS_EXCLUDES(mu_);

  const std::chrono::steady_clock::duration interval_;
  const std::function<void()> callback_;
  Mutex mu_;
  CondVar wake_;
  bool stop_ AEGIS_GUARDED_BY(mu_) = false;
  bool run_now_ AEGIS_GUARDED_BY(mu_) = false;
  std::once_flag joined_;
  std::thread thread_;  // set once in the constructor; joined once in Stop
};

}  // namespace aegis
