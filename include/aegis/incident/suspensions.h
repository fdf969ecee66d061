// Suspensions: principals refused on both planes with 403 "credential
// suspended" until an operator reinstates them (an incident playbook's
// "suspend", or `aegis principal suspend NAME`). Kept in the metadata store,
// so a restart keeps them; loaded into memory once, so the check on every
// request right after authentication is one hash lookup under a shared lock.
//
// Bounded: at most kMaxSuspensions principals (a playbook cannot grow the set
// without limit).
//
// Thread-safety: every method is safe for concurrent use. Suspend and
// Reinstate write the database: worker threads only.
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "aegis/common/clock.h"
#include "aegis/common/status.h"
#include "aegis/store/metadata_store.h"

namespace aegis::incident {

inline constexpr size_t kMaxSuspensions = 100000;

class Suspensions {
 public:
  // `store` and `clock` must outlive the object.
  static StatusOr<std::unique_ptr<Suspensions>> Load(store::MetadataStore* store, const Clock& clock);

  bool IsSuspended(std::string_view principal) const;
  // InvalidArgument for a malformed name (CheckPrincipalName), AlreadyExists,
  // TooLarge beyond kMaxSuspensions.
  Status Suspend(const std::string& principal, const std::string& reason, const std::string& by);
  // NotFound when it is not suspended.
  Status Reinstate(const std::string& principal);
  StatusOr<std::vector<store::SuspensionRecord>> List() const;
  // Reads the suspended principals from the store again: another server
  // suspended or reinstated one (store::ChangeFeed). On error nothing changes.
  Status Reload();

 private:
  Suspensions(store::MetadataStore* store, const Clock& clock) : store_(store), clock_(clock) {}

  store::MetadataStore* const store_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_set<std::string> suspended_;
  std::atomic<uint64_t> generation_{0};  // bumped by every Suspend and Reinstate here
};

}  // namespace aegis::incident
