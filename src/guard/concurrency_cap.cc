#include "aegis/guard/concurrency_cap.h"

#include <functional>
#include <string>
#include <unordered_map>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"

namespace aegis::guard {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct ConcurrencyCap::Shard {
  Mutex mu;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> in_flight AEGIS_GUARDED_BY(mu);

  void Leave(const std::string& key) AEGIS_EXCLUDES(mu) {
    MutexLock lock(mu);
    const auto it = in_flight.find(key);
    if (it != in_flight.end() && --it->second == 0) in_flight.erase(it);
  }
};

ConcurrencyCap::ConcurrencyCap() {
  for (auto& shard : shards_) shard = std::make_unique<Shard>();
}

ConcurrencyCap::~ConcurrencyCap() = default;

ConcurrencyCap::Shard& ConcurrencyCap::ShardFor(std::string_view key) const {
  return *shards_[std::hash<std::string_view>{}(key) % kShards];
}

ConcurrencyCap::Slot ConcurrencyCap::TryEnter(std::string_view key, uint32_t max) {
  // No cap: a slot that holds nothing (non-null, so callers need not tell the cases apart).
  static const int kNothing = 0;
  if (max == 0) return Slot(&kNothing, [](const void*) {});
  Shard& shard = ShardFor(key);
  {
    MutexLock lock(shard.mu);
    auto it = shard.in_flight.find(key);
    if (it == shard.in_flight.end()) it = shard.in_flight.emplace(std::string(key), 0).first;
    if (it->second >= max) return nullptr;
    ++it->second;
  }
  // One allocation holds the key and the control block; leaving runs when the
  // last copy of the slot goes.
  class Held {
   public:
    Held(Shard* shard, std::string_view key) : shard_(shard), key_(key) {}
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() { shard_->Leave(key_); }

   private:
    Shard* shard_;
    std::string key_;
  };
  return std::make_shared<const Held>(&shard, key);
}

uint32_t ConcurrencyCap::InFlight(std::string_view key) const {
  Shard& shard = ShardFor(key);
  MutexLock lock(shard.mu);
  const auto it = shard.in_flight.find(key);
  return it == shard.in_flight.end() ? 0 : it->second;
}

size_t ConcurrencyCap::Tracked() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    MutexLock lock(shard->mu);
    n += shard->in_flight.size();
  }
  return n;
}

}  // namespace aegis::guard
