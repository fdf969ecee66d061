#include "aegis/incident/suspensions.h"

#include <mutex>

#include "aegis/incident/incidents.h"

namespace aegis::incident {

StatusOr<std::unique_ptr<Suspensions>> Suspensions::Load(store::MetadataStore* store, const Clock& clock) {
  std::unique_ptr<Suspensions> s(new Suspensions(store, clock));
  AEGIS_ASSIGN_OR_RETURN(auto records, store->ListSuspensions());
  for (auto& r : records) s->suspended_.insert(std::move(r.principal));
  return s;
}

bool Suspensions::IsSuspended(std::string_view principal) const {
  std::shared_lock lock(mu_);
  if (suspended_.empty()) return false;  // the common case costs no allocation
  return suspended_.contains(std::string(principal));
}

Status Suspensions::Suspend(const std::string& principal, const std::string& reason, const std::string& by) {
  AEGIS_RETURN_IF_ERROR(CheckPrincipalName(principal));
  std::unique_lock lock(mu_);
  if (suspended_.contains(principal))
    return Status::AlreadyExists("principal '" + principal + "' is already suspended");
  if (suspended_.size() >= kMaxSuspensions) {
    return Status::TooLarge("already " + std::to_string(kMaxSuspensions) + " principals suspended");
  }
  // Stored first: a suspension that would not survive a restart is not made.
  AEGIS_RETURN_IF_ERROR(store_->InsertSuspension({principal, reason, FormatRfc3339(clock_.Now()), by}));
  suspended_.insert(principal);
  ++generation_;
  return Status::Ok();
}

Status Suspensions::Reinstate(const std::string& principal) {
  AEGIS_RETURN_IF_ERROR(CheckPrincipalName(principal));
  std::unique_lock lock(mu_);
  AEGIS_RETURN_IF_ERROR(store_->DeleteSuspension(principal));
  suspended_.erase(principal);
  ++generation_;
  return Status::Ok();
}

StatusOr<std::vector<store::SuspensionRecord>> Suspensions::List() const { return store_->ListSuspensions(); }

Status Suspensions::Reload() {
  // Read without the lock (IsSuspended is on the request path); a Suspend or
  // Reinstate here meanwhile makes the list stale, so it is read again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t generation = generation_.load();
    AEGIS_ASSIGN_OR_RETURN(auto records, store_->ListSuspensions());
    std::unordered_set<std::string> suspended;
    for (auto& r : records) suspended.insert(std::move(r.principal));
    std::unique_lock lock(mu_);
    if (generation_.load() != generation) continue;
    suspended_ = std::move(suspended);
    return Status::Ok();
  }
  return Status::Unavailable("suspensions changed while they were read; the next change reads them again");
}

}  // namespace aegis::incident
