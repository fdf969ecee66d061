#include "login_throttle.h"

#include <algorithm>

namespace aegis::auth::internal {

void LoginThrottle::Expire(std::deque<Time>& failures, Time now) const {
  while (!failures.empty() && now - failures.front() >= window_) failures.pop_front();
}

bool LoginThrottle::IsThrottled(const std::string& source, Time now) {
  std::lock_guard lock(mu_);
  const auto it = sources_.find(source);
  if (it == sources_.end()) return false;
  Expire(it->second, now);
  if (it->second.empty()) {
    sources_.erase(it);
    return false;
  }
  return it->second.size() >= limit_;
}

std::vector<std::pair<std::string, LoginThrottle::Time>> LoginThrottle::Throttled(Time now) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, Time>> out;
  for (auto& [source, failures] : sources_) {
    Expire(failures, now);
    if (failures.size() >= limit_) out.emplace_back(source, failures.back());
  }
  return out;
}

void LoginThrottle::RecordFailure(const std::string& source, Time now) {
  std::lock_guard lock(mu_);
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= max_sources_) {
      // Sources whose newest failure has left the window hold nothing that matters.
      std::erase_if(sources_,
                    [&](const auto& entry) { return entry.second.empty() || now - entry.second.back() >= window_; });
    }
    if (sources_.size() >= max_sources_) {
      sources_.erase(std::min_element(sources_.begin(), sources_.end(),
                                      [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); }));
    }
    it = sources_.emplace(source, std::deque<Time>{}).first;
  }
  std::deque<Time>& failures = it->second;
  Expire(failures, now);
  failures.push_back(now);
  // Only the newest `limit` failures can decide a refusal.
  while (failures.size() > limit_) failures.pop_front();
}

}  // namespace aegis::auth::internal
