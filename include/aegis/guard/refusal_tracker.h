// RefusalTracker: the rate_abuse detector. Counts the guard stage's refusals
// (429) per principal in fixed windows and says once per window when a
// principal reaches the threshold (by default 100 refusals within a minute:
// a client that keeps hammering after being told to wait, not one that
// overshoots its burst now and then). Memory only, nothing per request is
// written anywhere; the caller raises one incident when told.
//
// Bounded: at most max_tracked principals; when full, principals whose window
// has ended are forgotten, and a new principal is not tracked while none has.
//
// Thread-safety: safe for concurrent use (one mutex; only refused requests
// reach it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace aegis::guard {

struct RefusalTrackerOptions {
  uint64_t threshold = 100;
  std::chrono::seconds window{60};
  size_t max_tracked = 10000;
};

class RefusalTracker {
 public:
  explicit RefusalTracker(RefusalTrackerOptions options = {}) : options_(options) {}

  // Counts one refusal of `principal`; true exactly when it is the
  // threshold-th in the principal's current window.
  bool Refused(std::string_view principal, std::chrono::steady_clock::time_point now);
  uint64_t threshold() const { return options_.threshold; }
  std::chrono::seconds window() const { return options_.window; }

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    uint64_t count = 0;
  };
  const RefusalTrackerOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace aegis::guard
