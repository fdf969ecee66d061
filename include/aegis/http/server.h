// HttpsServer: TLS-only HTTP/1.1 listeners (Boost.Beast + Asio, C++20 coroutines).
//
// There is no plaintext mode. Each listener terminates TLS 1.2/1.3 with Mozilla
// "intermediate" AEAD cipher suites, reads requests with a fresh parser per
// message and hard limits (header size, body size per Plan), enforces handshake,
// first-byte, read, write and idle timeouts (slow-loris), caps concurrent
// connections per listener and per source address (making room by closing the
// oldest connections that are not in a request, see src/http/admission.h),
// refuses targets with "..", and adds HSTS and no-sniff headers to every response.
// Dispatcher::Begin runs on an I/O thread (routing, authentication, immediate
// answers: it must not block for long); a Plan's handlers and body sinks run on a
// worker pool, and an async handler's Reply may come from any thread. Stop() stops accepting, lets in-flight
// requests finish (up to a grace period), then returns from Run().
//
// Thread-safety: construct and add listeners on one thread; Stop() may be called
// from any thread (e.g. a signal handler thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aegis/common/event_loop.h"
#include "aegis/common/status.h"
#include "aegis/http/message.h"

namespace aegis::http {

// The ceiling of Limits::max_header_bytes. Beast stores a header (or trailer)
// field's name and value with 16-bit lengths and throws on a longer one; the
// session's read buffer holds at most this plus one 16 KiB read, 64 KiB in all,
// so no field that long can ever be parsed and no peer can make Beast throw.
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{48} * 1024;

// The limits of one listener, in the order they apply to a connection
// (docs/limits.md): accept → connection caps → handshake deadline → first-byte
// deadline → header limits → read deadline → ...
struct Limits {
  // The request line and header fields; also the most a chunked body's trailer
  // section may take. At most kMaxHeaderBytes.
  uint64_t max_header_bytes = uint64_t{16} * 1024;
  std::chrono::seconds read_timeout{30};  // whole request (head + body) must arrive within this
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds idle_timeout{60};  // keep-alive wait for the next request
  std::chrono::seconds handshake_timeout{5};
  // From the end of the handshake to the first byte of the first request: a
  // connection that has never asked for anything is cheap to hold for an
  // attacker and useless to anyone else.
  std::chrono::seconds first_byte_timeout{5};
  // Per listener. At the cap a new connection takes the place of the oldest one
  // that is not in a request (handshaking or waiting for its first request,
  // then idle keep-alive); only when every connection is in a request is the
  // new one refused.
  int max_connections = 1024;
  // The same, per source address (IPv4 address; IPv6 addresses grouped by
  // their first ipv6_source_prefix bits, since one host often owns a /64).
  // Loopback is not exempt.
  int max_connections_per_source = 64;
  int ipv6_source_prefix = 64;
};

struct TlsFiles {
  std::filesystem::path certificate_chain;  // PEM
  std::filesystem::path private_key;        // PEM
  // The CA (PEM, one or more certificates) that issued certificate_chain: when
  // set, the listener is refused unless the chain verifies to it for a TLS server
  // (signatures, validity period, key usage), as a client trusting that CA would.
  std::optional<std::filesystem::path> server_ca;
  // Mutual TLS: when set, clients may present a certificate, which must chain
  // to one of these CAs (PEM bundle) or the handshake fails; a verified
  // certificate reaches the dispatcher as RequestHead::client_cert.
  std::optional<std::filesystem::path> client_ca;
  // With client_ca: refuse the handshake when the client presents no certificate.
  bool require_client_cert = false;
};

// Connection counters of one listener (for metrics).
struct ListenerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;             // closed at accept: at max_connections, all in a request
  uint64_t connections_refused_per_source = 0;  // closed at accept: at max_connections_per_source, all in a request
  uint64_t connections_shed = 0;                // closed to make room for a newer one (listener cap)
  uint64_t connections_shed_per_source = 0;     // closed to make room for a newer one (per-source cap)
  uint64_t handshake_timeouts = 0;              // no TLS handshake within handshake_timeout
  uint64_t first_byte_timeouts = 0;             // no request byte within first_byte_timeout
  int connections_active = 0;
};

// A summary of connection-limit actions, reported at most once a minute per
// listener so that a flood of refusals never becomes a flood of audit events.
struct ConnectionLimitReport {
  ListenerKind listener = ListenerKind::kData;
  std::string source;        // the source (address or IPv6 prefix) of the latest refusal or shed
  ListenerStats since_last;  // counts since the previous report (connections_active: now)
};

// Loads `tls` exactly as a listener would (chain, key, key/certificate match,
// the chain against the server CA and the client CA bundle when set), so that `aegis init` and config validation refuse
// files the server could not use.
Status CheckTlsFiles(const TlsFiles& tls);

struct ServerOptions {
  int io_threads = 0;      // 0: half the cores (at least 1)
  int worker_threads = 0;  // 0: half the cores (at least 1)
  std::chrono::seconds drain_timeout{30};
  // Called on the I/O thread after each successful TLS handshake with the
  // listener and the handshake's duration (for metrics). Must be cheap and must
  // not throw.
  std::function<void(ListenerKind listener, std::chrono::nanoseconds handshake)> on_handshake;
  // Called on the worker pool when a connection limit refused or closed a
  // connection, at most once a minute per listener (the first time at once).
  // Must not throw.
  std::function<void(const ConnectionLimitReport&)> on_connection_limit;
  // Called once if the drain timeout runs out with requests still inside their
  // handlers: it must make them answer at once (fail inference waiting on a
  // stuck engine worker), so that the server stops within the timeout.
  std::function<void()> on_drain_timeout;
};

class HttpsServer {
 public:
  explicit HttpsServer(ServerOptions options);
  ~HttpsServer();

  // Binds "host:port" ("[::1]:8443" for IPv6; port 0 picks a free port) for
  // listener `kind` (at most one of each). The dispatcher must outlive the server.
  Status AddListener(ListenerKind kind, const std::string& host_port, const TlsFiles& tls, const Limits& limits,
                     Dispatcher* dispatcher);
  // Loads new TLS files for the listeners named (each exactly as AddListener
  // would; listeners not added are skipped) and, only when every one loads,
  // hands them to new connections. Connections already open keep the
  // certificate they started with; nothing is dropped. On error nothing
  // changes. Safe from any thread.
  Status ReloadTls(const std::vector<std::pair<ListenerKind, TlsFiles>>& tls);
  // The bound port of listener `kind` (0 before AddListener).
  uint16_t BoundPort(ListenerKind kind) const;
  // Counters of listener `kind` (zeros if not added). Safe from any thread.
  ListenerStats Stats(ListenerKind kind) const;

  // The I/O threads' event loop (see aegis/common/event_loop.h): watches run
  // while Run() runs. Lives as long as the server; every Watch must be destroyed
  // before the server is.
  EventLoop& event_loop();

  // Serves until Stop(); returns after draining.
  void Run();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::http
