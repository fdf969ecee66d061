// MemoryBudget: a ceiling on the bytes that request bodies may hold in memory,
// in total and per principal, so that many large requests get a 503 instead of
// pushing the server into the kernel's OOM killer.
//
// Bytes are held through a Reservation, an RAII handle: what it reserved is
// released when it is destroyed, whatever ends the request (answered, refused,
// client gone, timeout, server stopping). A Reservation shares ownership of the
// budget's state, so no order of destruction leaves a handle dangling.
//
// Accounting starts only once a request is authenticated and authorized (the
// API layer opens the reservation), so a client without a credential cannot
// reserve anything; a principal can hold at most `per_principal_bytes`, so one
// credential cannot starve the others.
//
// Example:
//   MemoryBudget budget({.total_bytes = 1 << 30, .per_principal_bytes = 256 << 20});
//   MemoryBudget::Reservation r = budget.Open("token:scorer");
//   if (r.GrowTo(content_length) != BudgetRefusal::kNone) { /* 503 + Retry-After */ }
//   // ... read the body into at most content_length bytes ...
//   // r's destructor gives the bytes back.
//
// Thread-safety: MemoryBudget's members are safe for concurrent use. One
// Reservation is used by one thread at a time (it may move between threads).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace aegis::guard {

struct MemoryBudgetOptions {
  uint64_t total_bytes = 0;          // all principals together
  uint64_t per_principal_bytes = 0;  // one principal at most (<= total_bytes)
};

// Why a reservation could not grow.
enum class BudgetRefusal {
  kNone,       // it grew
  kTotal,      // every principal together would exceed total_bytes
  kPrincipal,  // this principal would exceed per_principal_bytes
};

// Counters and state for metrics.
struct MemoryBudgetStats {
  uint64_t total_bytes = 0;
  uint64_t per_principal_bytes = 0;
  uint64_t held_bytes = 0;  // reserved right now
  uint64_t refused_total = 0;
  uint64_t refused_principal = 0;
};

class MemoryBudget {
  struct State;
  struct Entry;

 public:
  explicit MemoryBudget(MemoryBudgetOptions options);
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  class Reservation {
   public:
    Reservation() = default;  // holds nothing, cannot grow
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Release(); }

    // Holds `bytes` in total (never less than already held: a reservation only
    // grows). On a refusal nothing changes and the refusal is counted.
    [[nodiscard]] BudgetRefusal GrowTo(uint64_t bytes);
    uint64_t bytes() const { return bytes_; }
    // Gives everything back now; the reservation is then empty and cannot grow.
    void Release() noexcept;

   private:
    friend class MemoryBudget;
    Reservation(std::shared_ptr<State> state, Entry* entry) : state_(std::move(state)), entry_(entry) {}
    std::shared_ptr<State> state_;
    Entry* entry_ = nullptr;  // the principal's entry; alive while any reservation names it
    uint64_t bytes_ = 0;
  };

  // An empty reservation for `principal` (the name the audit log records).
  Reservation Open(std::string_view principal);

  MemoryBudgetStats Stats() const;
  // Principals holding an open reservation (for tests: entries do not outlive them).
  size_t OpenPrincipals() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace aegis::guard
