// Admission: which connections a listener holds, by age and by source address,
// and what happens at accept when a connection cap is reached.
//
// A connection that has not yet asked for anything (TLS handshake, waiting for
// its first request) costs an attacker one socket and serves nobody; one that
// is idle between requests can reconnect at no loss (RFC 9112 §9.3.1 lets a
// server close an idle persistent connection at any time). So at a cap a new
// connection is not refused: it takes the place of the oldest connection of
// the same scope (its source for the per-source cap, the listener for the
// listener cap) that is in the handshake or waiting for its first request, or
// else of the oldest idle keep-alive one. A connection with a request in
// progress is never displaced; only when every connection in scope is in a
// request is the new one refused. Probes and established clients therefore
// keep being served while one source, or many, hold idle connections.
//
// Example:
//   Admission admission(limits);
//   auto decision = admission.Admit(connection, SourceOf(address, limits.ipv6_source_prefix));
//   if (decision.verdict != Verdict::kAdmitted) { /* close, count */ }
//   if (decision.victim) { /* close the victim on its strand */ }
//   ...
//   admission.Release(*connection);  // when its session ends
//
// Thread-safety: Admit and Release are safe from any thread (one mutex, held
// for O(1) work plus a scan that skips only connections in a request).
// Connection::phase is written by the connection's strand and read here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/http/server.h"
#include "asio_types.h"

namespace aegis::http::internal {

struct Connection;

// What a connection is doing, as far as admission is concerned.
enum class Phase : uint8_t {
  kHandshake,        // TCP accepted, TLS handshake not finished
  kAwaitingRequest,  // handshake done, no byte of a request yet
  kInRequest,        // reading, handling or answering a request
  kIdle,             // keep-alive, between requests
};

// A source address: family byte, then the IPv4 address or the IPv6 prefix
// (bits past the prefix zeroed). IPv4-mapped IPv6 addresses count as IPv4.
using SourceKey = std::array<uint8_t, 17>;
SourceKey SourceOf(const asio::ip::address& address, int ipv6_prefix);
// "192.0.2.7" or "2001:db8:1:2::/64".
std::string DescribeSource(const SourceKey& source, int ipv6_prefix);

// Admission's bookkeeping inside each Connection, touched only under the
// listener's Admission::mu_ (it lives in the Connection, so the annotation
// cannot name that mutex; only Admission's members touch it).
struct AdmissionEntry {
  std::list<std::shared_ptr<Connection>>::iterator in_all, in_source;
  SourceKey source{};
  bool admitted = false;
  bool shed = false;  // chosen to make room: closing, no longer counted as live
};

enum class Verdict : uint8_t { kAdmitted, kRefusedListenerCap, kRefusedSourceCap };

struct AdmissionDecision {
  Verdict verdict = Verdict::kAdmitted;
  std::shared_ptr<Connection> victim;  // admitted in its place: close it
  bool victim_for_source = false;      // displaced by the per-source cap (else the listener cap)
};

class Admission {
 public:
  // At most this many displaced connections may still be closing: beyond it
  // new connections are refused, so descriptors stay bounded by
  // max_connections + kMaxClosing whatever the accept rate.
  static constexpr int kMaxClosing = 64;

  explicit Admission(const Limits& limits)
      : max_connections_(limits.max_connections), max_per_source_(limits.max_connections_per_source) {}

  AdmissionDecision Admit(const std::shared_ptr<Connection>& connection, const SourceKey& source) AEGIS_EXCLUDES(mu_);
  // Forgets an admitted connection (idempotent; no-op if never admitted).
  void Release(Connection& connection) AEGIS_EXCLUDES(mu_);
  // Connections admitted and not yet released (including those closing).
  int active() const AEGIS_EXCLUDES(mu_);

 private:
  using List = std::list<std::shared_ptr<Connection>>;
  struct Source {
    int live = 0;  // admitted, not displaced
    List connections;
  };
  struct SourceHash {
    size_t operator()(const SourceKey& k) const;
  };
  // The oldest connection in `among` not in a request: first one that never
  // sent a request, else an idle one. Null if all are in a request.
  static std::shared_ptr<Connection> OldestDisplaceable(const List& among);
  void MarkShed(Connection& victim) AEGIS_REQUIRES(mu_);

  const int max_connections_;
  const int max_per_source_;
  mutable Mutex mu_;
  List all_ AEGIS_GUARDED_BY(mu_);  // oldest first
  std::unordered_map<SourceKey, Source, SourceHash> sources_ AEGIS_GUARDED_BY(mu_);
  int live_ AEGIS_GUARDED_BY(mu_) = 0;     // admitted, not displaced
  int closing_ AEGIS_GUARDED_BY(mu_) = 0;  // displaced, not yet released
};

}  // namespace aegis::http::internal
