// Per-source login throttling (internal to src/auth). It slows guessing from
// one client address without shutting that address out: many people may share
// it (an ingress, a NAT, an SSH tunnel), and an attacker there must not be able
// to keep the right password and code of everyone else out.
//
// Once an address has `limit` credential failures within the sliding `window`
// it is throttled: from then on each user name may be tried from it at most
// once per `name_interval` after a failure of that name from that address;
// the attempt is refused (with how long to wait) before any password is
// checked. A name that has not failed from the address lately goes through,
// so a person who types their own password right is never refused for what
// others did. Guessing one account stays bounded by its lockout (10 failures),
// and each guess costs a full Argon2id verification and needs a current TOTP
// code besides the password. Throttled attempts are not failures themselves,
// so the throttle ends on its own once the window passes.
//
// Memory is bounded: at most `limit` timestamps per address, `max_sources`
// addresses (beyond that the address whose last failure is oldest is dropped),
// and `max_recent` (address, name) pairs, of which only those younger than
// `name_interval` matter.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aegis::auth::internal {

struct LoginThrottleOptions {
  int limit = 30;                          // failures per address …
  std::chrono::seconds window{10 * 60};    // … within this, to throttle it
  std::chrono::seconds name_interval{60};  // then: one try per name per this, after a failure
  size_t max_sources = 10000;
  size_t max_recent = 100000;
};

class LoginThrottle {
 public:
  using Time = std::chrono::steady_clock::time_point;

  explicit LoginThrottle(LoginThrottleOptions options);

  // Whether `source` is throttled now (over its failure limit).
  bool IsThrottled(const std::string& source, Time now);
  // How long an attempt on `name` from `source` must wait; nullopt when it may
  // go ahead (the source is not throttled, or `name` has not failed from it
  // within name_interval).
  std::optional<std::chrono::seconds> Refusal(const std::string& source, const std::string& name, Time now);
  void RecordFailure(const std::string& source, const std::string& name, Time now);
  // Sources throttled at `now`, with the time of the failure that reached the
  // limit (throttled attempts are not failures, so that is when it began).
  std::vector<std::pair<std::string, Time>> Throttled(Time now);

 private:
  void Expire(std::deque<Time>& failures, Time now) const;
  bool IsThrottledLocked(const std::string& source, Time now);
  static std::string PairKey(const std::string& source, const std::string& name) { return source + '\n' + name; }

  const size_t limit_;
  const LoginThrottleOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Time>> sources_;  // failure times, oldest first
  std::unordered_map<std::string, Time> recent_;               // (source, name) → last failure
};

}  // namespace aegis::auth::internal
