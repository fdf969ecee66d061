#include "aegis/guard/refusal_tracker.h"

namespace aegis::guard {

bool RefusalTracker::Refused(std::string_view principal, std::chrono::steady_clock::time_point now) {
  if (options_.threshold == 0) return false;
  std::lock_guard lock(mu_);
  auto it = windows_.find(std::string(principal));
  if (it == windows_.end()) {
    if (windows_.size() >= options_.max_tracked) {
      // Only when full: forget principals whose window is over (they start afresh anyway).
      std::erase_if(windows_, [&](const auto& entry) { return now - entry.second.start >= options_.window; });
      if (windows_.size() >= options_.max_tracked) return false;
    }
    it = windows_.emplace(std::string(principal), Window{now, 0}).first;
  }
  Window& w = it->second;
  if (now - w.start >= options_.window) w = Window{now, 0};
  return ++w.count == options_.threshold;
}

}  // namespace aegis::guard
