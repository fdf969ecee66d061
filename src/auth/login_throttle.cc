#include "login_throttle.h"

#include <algorithm>

namespace aegis::auth::internal {

LoginThrottle::LoginThrottle(LoginThrottleOptions options)
    : limit_(options.limit > 0 ? static_cast<size_t>(options.limit) : 1), options_(options) {}

void LoginThrottle::Expire(std::deque<Time>& failures, Time now) const {
  while (!failures.empty() && now - failures.front() >= options_.window) failures.pop_front();
}

bool LoginThrottle::IsThrottledLocked(const std::string& source, Time now) {
  const auto it = sources_.find(source);
  if (it == sources_.end()) return false;
  Expire(it->second, now);
  if (it->second.empty()) {
    sources_.erase(it);
    return false;
  }
  return it->second.size() >= limit_;
}

bool LoginThrottle::IsThrottled(const std::string& source, Time now) {
  std::lock_guard lock(mu_);
  return IsThrottledLocked(source, now);
}

std::optional<std::chrono::seconds> LoginThrottle::Refusal(const std::string& source, const std::string& name,
                                                           Time now) {
  std::lock_guard lock(mu_);
  if (!IsThrottledLocked(source, now)) return std::nullopt;
  const auto it = recent_.find(PairKey(source, name));
  if (it == recent_.end() || now - it->second >= options_.name_interval) return std::nullopt;
  const auto wait = options_.name_interval - (now - it->second);
  // Rounded up: a client that waits as told is not refused again.
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(wait));
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

void LoginThrottle::RecordFailure(const std::string& source, const std::string& name, Time now) {
  std::lock_guard lock(mu_);
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= options_.max_sources) {
      // Sources whose newest failure has left the window hold nothing that matters.
      std::erase_if(sources_, [&](const auto& entry) {
        return entry.second.empty() || now - entry.second.back() >= options_.window;
      });
    }
    if (sources_.size() >= options_.max_sources) {
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

  if (recent_.size() >= options_.max_recent) {
    std::erase_if(recent_, [&](const auto& entry) { return now - entry.second >= options_.name_interval; });
  }
  if (recent_.size() >= options_.max_recent) {
    // Only reached by more failures within name_interval than max_recent, which
    // the Argon2id gate does not allow: forget the oldest rather than grow.
    recent_.erase(std::min_element(recent_.begin(), recent_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  recent_[PairKey(source, name)] = now;
}

}  // namespace aegis::auth::internal
