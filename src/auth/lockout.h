// Account lockout (internal to src/auth): consecutive credential failures lock
// a name for a while, during which even the right credentials fail.
//
// LockoutState is the counter and lock of one name; the free functions are the
// rules, shared by stored accounts (persisted in the users table) and by
// UnknownNameLockouts, which keeps names that are not accounts in memory so an
// unknown name behaves exactly like a real one.
//
// Thread-safety: the free functions are pure; UnknownNameLockouts is safe for
// concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aegis/store/metadata_store.h"

namespace aegis::auth::internal {

using SystemTime = std::chrono::system_clock::time_point;

struct LockoutPolicy {
  int threshold = 10;
  std::chrono::seconds duration{30 * 60};
};

struct LockoutState {
  int failed_logins = 0;
  std::optional<SystemTime> locked_until;
  bool operator==(const LockoutState&) const = default;
};

bool IsLocked(const LockoutState& state, SystemTime now);

// The state after one more failure. A failure while locked changes nothing (the
// lock is not extended); after a lock has expired counting restarts at 1.
LockoutState AfterFailure(LockoutState state, SystemTime now, const LockoutPolicy& policy);

// The stored form (users.failed_logins, users.locked_until as RFC 3339). An
// unreadable locked_until counts as locked indefinitely: fail closed.
LockoutState LockoutStateOf(const store::UserRecord& user);
std::optional<std::string> LockedUntilText(const LockoutState& state);

// Parses FormatRfc3339's output ("2026-01-02T03:04:05.000006Z"; the fraction is
// optional). nullopt for anything else.
std::optional<SystemTime> ParseRfc3339(std::string_view text);

// Lockout state for names that are not accounts, bounded: beyond `capacity`
// names the least recently failed one is forgotten.
class UnknownNameLockouts {
 public:
  UnknownNameLockouts(LockoutPolicy policy, size_t capacity) : policy_(policy), capacity_(capacity) {}
  bool IsLocked(const std::string& name, SystemTime now);
  // True when this failure locked the name.
  bool RecordFailure(const std::string& name, SystemTime now);
  // Names locked at `now`, with the end of their lock.
  std::vector<std::pair<std::string, SystemTime>> Locked(SystemTime now);

 private:
  struct Entry {
    LockoutState state;
    uint64_t touched = 0;  // order of the last failure, for eviction
  };
  const LockoutPolicy policy_;
  const size_t capacity_;
  std::mutex mu_;
  uint64_t clock_ = 0;
  std::unordered_map<std::string, Entry> names_;
};

}  // namespace aegis::auth::internal
