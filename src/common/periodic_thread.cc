#include "aegis/common/periodic_thread.h"

namespace aegis {

void PeriodicThread::RunNow() {
  MutexLock lock(mu_);
  run_now_ = true;
  wake_.NotifyOne();
}

void PeriodicThread::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
    wake_.NotifyOne();
  }
  // Two concurrent Stop() calls: one joins, the other waits until it has.
  std::call_once(joined_, [this] { thread_.join(); });
}

void PeriodicThread::Loop() {
  while (AwaitNextRun()) callback_();
}

bool PeriodicThread::AwaitNextRun() {
  MutexLock lock(mu_);
  // The flags are read under the lock before every sleep, so a request made
  // while the callback ran (or between two waits) is never slept through.
  const auto now = std::chrono::steady_clock::now();
  // An interval too long to add to now (years) means "never on its own".
  const auto due = interval_ < std::chrono::steady_clock::time_point::max() - now
                       ? now + interval_
                       : std::chrono::steady_clock::time_point::max();
  while (!stop_ && !run_now_) {
    if (wake_.WaitUntil(mu_, due) == std::cv_status::timeout) break;
  }
  run_now_ = false;
  return !stop_;
}

}  // namespace aegis
