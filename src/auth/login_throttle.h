// Per-source login throttling (internal to src/auth): once a client address
// has `limit` credential failures within the sliding `window`, its further
// attempts are refused until the oldest of them leaves the window. Other
// addresses are unaffected. Throttled attempts are not failures themselves, so
// the refusal ends on its own.
//
// Memory is bounded: at most `limit` timestamps per address and `max_sources`
// addresses (beyond that the address whose last failure is oldest is dropped).
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aegis::auth::internal {

class LoginThrottle {
 public:
  using Time = std::chrono::steady_clock::time_point;

  LoginThrottle(int limit, std::chrono::seconds window, size_t max_sources = 10000)
      : limit_(limit > 0 ? static_cast<size_t>(limit) : 1), window_(window), max_sources_(max_sources) {}

  bool IsThrottled(const std::string& source, Time now);
  void RecordFailure(const std::string& source, Time now);
  // Sources refused at `now`, with the time of the failure that reached the
  // limit (throttled attempts are not failures, so that is when the refusal began).
  std::vector<std::pair<std::string, Time>> Throttled(Time now);

 private:
  void Expire(std::deque<Time>& failures, Time now) const;

  const size_t limit_;
  const std::chrono::seconds window_;
  const size_t max_sources_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Time>> sources_;  // failure times, oldest first
};

}  // namespace aegis::auth::internal
