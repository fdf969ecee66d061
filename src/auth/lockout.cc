#include "lockout.h"

#include <algorithm>
#include <charconv>

#include "aegis/common/clock.h"

namespace aegis::auth::internal {
namespace {

// Reads exactly `digits` decimal digits at `pos`.
bool ReadNumber(std::string_view text, size_t pos, size_t digits, int& out) {
  if (pos + digits > text.size()) return false;
  const char* begin = text.data() + pos;
  for (size_t i = 0; i < digits; ++i) {
    if (begin[i] < '0' || begin[i] > '9') return false;
  }
  return std::from_chars(begin, begin + digits, out).ec == std::errc();
}

}  // namespace

bool IsLocked(const LockoutState& state, SystemTime now) { return state.locked_until && now < *state.locked_until; }

LockoutState AfterFailure(LockoutState state, SystemTime now, const LockoutPolicy& policy) {
  if (IsLocked(state, now)) return state;
  if (state.locked_until) state = LockoutState{};  // the lock has run out: a fresh count
  ++state.failed_logins;
  if (state.failed_logins >= policy.threshold) state.locked_until = now + policy.duration;
  return state;
}

std::optional<SystemTime> ParseRfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.ffffff]Z
  int y, mo, d, h, mi, s, micros = 0;
  if (text.size() < 20 || text.back() != 'Z' || !ReadNumber(text, 0, 4, y) || text[4] != '-' ||
      !ReadNumber(text, 5, 2, mo) || text[7] != '-' || !ReadNumber(text, 8, 2, d) || text[10] != 'T' ||
      !ReadNumber(text, 11, 2, h) || text[13] != ':' || !ReadNumber(text, 14, 2, mi) || text[16] != ':' ||
      !ReadNumber(text, 17, 2, s)) {
    return std::nullopt;
  }
  if (text.size() == 27) {
    if (text[19] != '.' || !ReadNumber(text, 20, 6, micros)) return std::nullopt;
  } else if (text.size() != 20) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                         std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(s) +
         std::chrono::microseconds(micros);
}

LockoutState LockoutStateOf(const store::UserRecord& user) {
  LockoutState state{user.failed_logins, std::nullopt};
  if (user.locked_until) state.locked_until = ParseRfc3339(*user.locked_until).value_or(SystemTime::max());
  return state;
}

std::optional<std::string> LockedUntilText(const LockoutState& state) {
  if (!state.locked_until) return std::nullopt;
  return FormatRfc3339(*state.locked_until);
}

bool UnknownNameLockouts::IsLocked(const std::string& name, SystemTime now) {
  std::lock_guard lock(mu_);
  const auto it = names_.find(name);
  return it != names_.end() && internal::IsLocked(it->second.state, now);
}

std::vector<std::pair<std::string, SystemTime>> UnknownNameLockouts::Locked(SystemTime now) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, SystemTime>> out;
  for (const auto& [name, entry] : names_) {
    if (internal::IsLocked(entry.state, now)) out.emplace_back(name, *entry.state.locked_until);
  }
  return out;
}

bool UnknownNameLockouts::RecordFailure(const std::string& name, SystemTime now) {
  std::lock_guard lock(mu_);
  auto it = names_.find(name);
  if (it == names_.end()) {
    if (names_.size() >= capacity_) {
      // A linear scan, but only when full, and always cheaper than the Argon2id
      // verification every failure has already paid for.
      names_.erase(std::min_element(names_.begin(), names_.end(),
                                    [](const auto& a, const auto& b) { return a.second.touched < b.second.touched; }));
    }
    it = names_.emplace(name, Entry{}).first;
  }
  const bool was_locked = internal::IsLocked(it->second.state, now);
  it->second.state = AfterFailure(it->second.state, now, policy_);
  it->second.touched = ++clock_;
  return !was_locked && internal::IsLocked(it->second.state, now);
}

}  // namespace aegis::auth::internal
