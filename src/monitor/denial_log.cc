#include "denial_log.h"

#include <string>
#include <string_view>
#include <utility>

namespace aegis::monitor::internal {
namespace {

// What the dashboard shows of each field; the audit log keeps the whole event.
constexpr size_t kMaxField = 256;

void Cut(std::string& s) {
  if (s.size() > kMaxField) s.resize(kMaxField);
}

std::vector<DenialRecord> NewestFirst(const std::deque<DenialRecord>& q) { return {q.rbegin(), q.rend()}; }

}  // namespace

void DenialLog::Add(DenialRecord denial) {
  for (std::string* s : {&denial.principal, &denial.remote, &denial.action, &denial.resource, &denial.reason}) Cut(*s);
  // The registry's own prefix for refused model bytes (registry::IsIntegrityFailure).
  const bool integrity = std::string_view(denial.reason).starts_with("integrity check failed");
  MutexLock lock(mu_);
  if (integrity) {
    integrity_.push_back(denial);
    if (integrity_.size() > kMaxIntegrity) integrity_.pop_front();
  }
  recent_.push_back(std::move(denial));
  if (recent_.size() > kMaxDenials) recent_.pop_front();
}

std::vector<DenialRecord> DenialLog::Recent() const {
  MutexLock lock(mu_);
  return NewestFirst(recent_);
}

std::vector<DenialRecord> DenialLog::RecentIntegrity() const {
  MutexLock lock(mu_);
  return NewestFirst(integrity_);
}

}  // namespace aegis::monitor::internal
