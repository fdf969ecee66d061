// DenialLog: the dashboard's recent denials (who, from where, why) and, apart,
// the recent integrity refusals (internal to src/monitor).
//
// Every request that ends denied is offered; the newest kMaxDenials are kept,
// and those whose reason is an integrity failure ("integrity check failed: ...",
// registry.h) also in a list of their own (kMaxIntegrity), so that a flood of
// 401s cannot push a refused model out of sight. Every string is cut to a
// fixed length: principals, addresses and reasons come from clients.
//
// Thread-safety: safe for concurrent use (one mutex, held for a copy).
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/monitor/monitor.h"

namespace aegis::monitor::internal {

class DenialLog {
 public:
  static constexpr size_t kMaxDenials = 50;
  static constexpr size_t kMaxIntegrity = 20;

  void Add(DenialRecord denial) AEGIS_EXCLUDES(mu_);
  // Newest first.
  std::vector<DenialRecord> Recent() const AEGIS_EXCLUDES(mu_);
  std::vector<DenialRecord> RecentIntegrity() const AEGIS_EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::deque<DenialRecord> recent_ AEGIS_GUARDED_BY(mu_);     // oldest first
  std::deque<DenialRecord> integrity_ AEGIS_GUARDED_BY(mu_);  // oldest first
};

}  // namespace aegis::monitor::internal
