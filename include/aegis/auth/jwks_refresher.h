// JwksRefresher: keeps a JwtVerifier's keys current with an identity provider
// that rotates them. Every `interval` (5 minutes unless told otherwise) it
// fetches the JWKS again and swaps it in with JwtVerifier::ReplaceKeys. A fetch
// that fails, or a JWKS the verifier refuses, keeps the previous keys and is
// logged as a warning; the next attempt comes one interval later.
//
// How the JWKS is fetched is the caller's: `fetch` returns the document or a
// Status saying why not (`aegis serve` fetches [auth.jwt] jwks_url over HTTPS).
// That keeps auth free of the network stack and lets tests fetch from memory.
// The keys a server starts with are loaded by the caller before this starts.
//
//   auto verifier = JwtVerifier::Create(config, FetchFromIdp());
//   JwksRefresher refresher(**verifier, [] { return FetchFromIdp(); });
//
// Thread-safety: `fetch` runs on the refresher's own thread (one call at a
// time). Stop may be called from any thread; the verifier must outlive the
// refresher and stays safe to use from any thread meanwhile.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "aegis/auth/jwt.h"
#include "aegis/common/periodic_thread.h"
#include "aegis/common/status.h"

namespace aegis::auth {

class JwksRefresher {
 public:
  using Fetch = std::function<StatusOr<std::string>()>;
  static constexpr std::chrono::minutes kDefaultInterval{5};

  // Starts refreshing; the first fetch is one interval from now.
  JwksRefresher(JwtVerifier& verifier, Fetch fetch, std::chrono::steady_clock::duration interval = kDefaultInterval);

  // Stops at once (a fetch in progress is waited for); idempotent. The
  // destructor stops too.
  void Stop() { thread_.Stop(); }

 private:
  // One fetch and swap; failures are logged, never thrown.
  void Refresh() noexcept;

  JwtVerifier& verifier_;
  const Fetch fetch_;
  PeriodicThread thread_;  // last: stopped before the members it uses go
};

}  // namespace aegis::auth
