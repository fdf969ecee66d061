#include "aegis/guard/memory_budget.h"

#include <array>
#include <atomic>
#include <functional>
#include <unordered_map>

#include "aegis/common/mutex.h"

namespace aegis::guard {

// A principal's bytes and how many reservations name it. The entry is erased
// with its last reservation, so the table holds only principals with a request
// in flight and cannot grow with the number of principals ever seen.
//
// `bytes` and `holders` are guarded by the mutex of shard `shard`, the one whose
// table holds the entry. The analysis cannot follow an entry to its shard (it
// compares lock expressions, and the entry is reached through the table or a
// reservation), so that is held by the three functions that touch them.
struct MemoryBudget::Entry {
  uint64_t bytes = 0;
  uint64_t holders = 0;
  size_t shard = 0;
  const std::string* name = nullptr;  // the table's key, which never moves
};

// Principals are spread over shards so that requests of different principals
// rarely wait on the same mutex; the total is one atomic.
struct MemoryBudget::State {
  static constexpr size_t kShards = 16;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    Mutex mu;
    // unordered_map nodes never move, so Entry pointers stay valid until erased.
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries AEGIS_GUARDED_BY(mu);
  };

  explicit State(MemoryBudgetOptions o) : options(o) {}

  const MemoryBudgetOptions options;
  std::atomic<uint64_t> held{0};
  std::atomic<uint64_t> refused_total{0};
  std::atomic<uint64_t> refused_principal{0};
  std::array<Shard, kShards> shards;
};

MemoryBudget::MemoryBudget(MemoryBudgetOptions options) : state_(std::make_shared<State>(options)) {}

MemoryBudget::Reservation MemoryBudget::Open(std::string_view principal) {
  const size_t shard_index = std::hash<std::string_view>{}(principal) % State::kShards;
  State::Shard& shard = state_->shards[shard_index];
  MutexLock lock(shard.mu);
  auto it = shard.entries.find(principal);
  if (it == shard.entries.end()) {
    it = shard.entries.try_emplace(std::string(principal)).first;
    it->second.shard = shard_index;
    it->second.name = &it->first;
  }
  ++it->second.holders;
  return Reservation(state_, &it->second);
}

MemoryBudget::Reservation::Reservation(Reservation&& other) noexcept
    : state_(std::move(other.state_)), entry_(other.entry_), bytes_(other.bytes_) {
  other.entry_ = nullptr;
  other.bytes_ = 0;
}

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::move(other.state_);
    entry_ = other.entry_;
    bytes_ = other.bytes_;
    other.entry_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

BudgetRefusal MemoryBudget::Reservation::GrowTo(uint64_t bytes) {
  if (bytes <= bytes_) return BudgetRefusal::kNone;
  if (!state_) return BudgetRefusal::kTotal;  // moved-from or released: holds nothing, ever
  State& s = *state_;
  const uint64_t more = bytes - bytes_;
  MutexLock lock(s.shards[entry_->shard].mu);
  // Both checks subtract instead of adding, so no sum can overflow.
  if (entry_->bytes > s.options.per_principal_bytes || more > s.options.per_principal_bytes - entry_->bytes) {
    s.refused_principal.fetch_add(1, std::memory_order_relaxed);
    return BudgetRefusal::kPrincipal;
  }
  uint64_t held = s.held.load(std::memory_order_relaxed);
  do {
    if (held > s.options.total_bytes || more > s.options.total_bytes - held) {
      s.refused_total.fetch_add(1, std::memory_order_relaxed);
      return BudgetRefusal::kTotal;
    }
  } while (!s.held.compare_exchange_weak(held, held + more, std::memory_order_relaxed));
  entry_->bytes += more;
  bytes_ = bytes;
  return BudgetRefusal::kNone;
}

void MemoryBudget::Reservation::Release() noexcept {
  if (!state_) return;
  State& s = *state_;
  {
    State::Shard& shard = s.shards[entry_->shard];
    MutexLock lock(shard.mu);
    entry_->bytes -= bytes_;
    s.held.fetch_sub(bytes_, std::memory_order_relaxed);
    // Erase through an iterator: erasing by a key that refers into the node
    // being erased would read freed memory.
    if (--entry_->holders == 0) shard.entries.erase(shard.entries.find(*entry_->name));
  }
  entry_ = nullptr;
  bytes_ = 0;
  state_.reset();
}

MemoryBudgetStats MemoryBudget::Stats() const {
  return {state_->options.total_bytes, state_->options.per_principal_bytes,
          state_->held.load(std::memory_order_relaxed), state_->refused_total.load(std::memory_order_relaxed),
          state_->refused_principal.load(std::memory_order_relaxed)};
}

size_t MemoryBudget::OpenPrincipals() const {
  size_t n = 0;
  for (auto& shard : state_->shards) {
    MutexLock lock(shard.mu);
    n += shard.entries.size();
  }
  return n;
}

}  // namespace aegis::guard
