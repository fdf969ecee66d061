// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with
// clang's thread-safety annotations (aegis/common/thread_annotations.h), so that
// -Wthread-safety proves every AEGIS_GUARDED_BY member is touched under its lock.
//
//   Mutex mu_;
//   CondVar ready_;
//   bool done_ AEGIS_GUARDED_BY(mu_) = false;
//
//   void Finish() AEGIS_EXCLUDES(mu_) {
//     MutexLock lock(mu_);
//     done_ = true;
//     ready_.NotifyAll();
//   }
//   void AwaitDone() AEGIS_EXCLUDES(mu_) {
//     MutexLock lock(mu_);
//     while (!done_) ready_.Wait(mu_);   // the condition is re-checked under the lock
//   }
//
// Waits take no predicate: a lambda is analysed as a function of its own that
// does not hold the lock, so conditions are written as loops in the caller (or as
// member functions marked AEGIS_REQUIRES).
//
// There is deliberately no lock()/unlock() pair: std::lock_guard and
// std::unique_lock are not annotated, and a lock taken through them would be
// invisible to the analysis. Use MutexLock.
//
// Thread-safety: Mutex and CondVar are safe for concurrent use (that is their
// job); a MutexLock belongs to the thread that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "aegis/common/thread_annotations.h"

namespace aegis {

class AEGIS_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() AEGIS_ACQUIRE() { mu_.lock(); }
  void Unlock() AEGIS_RELEASE() { mu_.unlock(); }
  bool TryLock() AEGIS_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` from construction to the end of the scope.
class AEGIS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) AEGIS_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() AEGIS_RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu`, sleeps until notified (or woken spuriously), takes `mu` again.
  void Wait(Mutex& mu) AEGIS_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // `mu` stays held, as it was on entry
  }

  // As Wait, but gives up at `deadline`: std::cv_status::timeout once it passed.
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline) AEGIS_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const std::cv_status status = cv_.wait_until(lock, deadline);
    lock.release();
    return status;
  }

  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace aegis
