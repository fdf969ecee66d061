// ThrottledWarnings: one log line per kind of problem per interval, counting
// the rest, for problems that requests can cause as often as they like (a
// refused credential that points at the server's configuration): the operator
// needs to hear of it, an attacker must not be able to fill the log with it.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace aegis::api::internal {

class ThrottledWarnings {
 public:
  explicit ThrottledWarnings(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // Whether a line for `kind` is due at `now`: then how many were held back
  // since the last one (0 for the first); nullopt while the interval runs.
  // `kind` comes from a fixed set (the callers' constants), which bounds the map.
  std::optional<uint64_t> Admit(std::string_view kind, std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mu_);
    // Found without a copy of `kind`: a refusal that is held back allocates nothing.
    auto it = kinds_.find(kind);
    const bool fresh = it == kinds_.end();
    if (fresh) it = kinds_.emplace(std::string(kind), Kind{}).first;
    Kind& k = it->second;
    if (!fresh && now - k.last < interval_) {
      ++k.held_back;
      return std::nullopt;
    }
    k.last = now;
    const uint64_t held = k.held_back;
    k.held_back = 0;
    return held;
  }

 private:
  struct Kind {
    std::chrono::steady_clock::time_point last;
    uint64_t held_back = 0;
  };
  const std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  std::map<std::string, Kind, std::less<>> kinds_;
};

}  // namespace aegis::api::internal
