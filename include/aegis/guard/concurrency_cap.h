// ConcurrencyCap: how many requests one key (a principal) may have in flight
// at once, so that one credential cannot hold every engine worker and worker
// thread while others wait (OWASP API4).
//
// A request enters with TryEnter and holds the returned Slot until it ends;
// destroying the Slot (whatever ends the request) lets the next one in. A key
// is tracked only while it has requests in flight.
//
// Example:
//   ConcurrencyCap cap;
//   ConcurrencyCap::Slot slot = cap.TryEnter("token:scorer", 64);
//   if (!slot) { /* 429 */ }
//
// Thread-safety: all members are safe for concurrent use; a Slot may be
// destroyed on any thread, and must not outlive its ConcurrencyCap.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

namespace aegis::guard {

class ConcurrencyCap {
  struct Shard;

 public:
  // Held while a request is in flight; empty when the cap refused it.
  using Slot = std::shared_ptr<const void>;

  ConcurrencyCap();
  ~ConcurrencyCap();
  ConcurrencyCap(const ConcurrencyCap&) = delete;
  ConcurrencyCap& operator=(const ConcurrencyCap&) = delete;

  // A slot for `key` if it has fewer than `max` in flight (max 0: no cap,
  // and the slot holds nothing); otherwise an empty one.
  Slot TryEnter(std::string_view key, uint32_t max);
  // Requests of `key` in flight now.
  uint32_t InFlight(std::string_view key) const;
  // Keys with requests in flight (for tests: nothing outlives its requests).
  size_t Tracked() const;

 private:
  static constexpr size_t kShards = 16;
  Shard& ShardFor(std::string_view key) const;
  std::array<std::unique_ptr<Shard>, kShards> shards_;
};

}  // namespace aegis::guard
