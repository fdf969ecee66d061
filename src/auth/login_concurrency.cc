#include "login_concurrency.h"

namespace aegis::auth::internal {

NameLocks::Guard::Guard(NameLocks* owner, std::string name) : owner_(owner), name_(std::move(name)) {
  Entry* entry;
  {
    std::lock_guard lock(owner_->mu_);
    auto& slot = owner_->entries_[name_];
    if (!slot) slot = std::make_unique<Entry>();
    ++slot->users;
    entry = slot.get();  // stays put: only the last user erases it
  }
  entry->mu.lock();
}

NameLocks::Guard::~Guard() {
  std::lock_guard lock(owner_->mu_);
  const auto it = owner_->entries_.find(name_);
  it->second->mu.unlock();
  if (--it->second->users == 0) owner_->entries_.erase(it);
}

}  // namespace aegis::auth::internal
