// A listener: one bound TLS port with its limits, dispatcher and connection
// caps (admission.h), and the coroutine that accepts on it.
//
// Thread-safety: the acceptor and the report state are used only on the
// acceptor's strand; counters are atomic; Admission and the TLS context lock
// themselves.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "admission.h"
#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/http/server.h"
#include "asio_types.h"
#include "connection_registry.h"

namespace aegis::http::internal {

struct Listener {
  Listener(ListenerKind kind, const Limits& limits, Dispatcher* dispatcher, std::shared_ptr<ssl::context> tls,
           tcp::acceptor acceptor)
      : kind(kind),
        name(ListenerName(kind)),
        limits(limits),
        dispatcher(dispatcher),
        acceptor(std::move(acceptor)),
        admission(limits),
        tls_(std::move(tls)) {}

  // Current counters (connections_active from admission).
  ListenerStats Stats() const;

  // The TLS context new connections get; each connection keeps the one it
  // started with for its whole life (HttpsServer::ReloadTls replaces it).
  std::shared_ptr<ssl::context> tls() const AEGIS_EXCLUDES(tls_mu_) {
    MutexLock lock(tls_mu_);
    return tls_;
  }
  void ReplaceTls(std::shared_ptr<ssl::context> tls) AEGIS_EXCLUDES(tls_mu_) {
    MutexLock lock(tls_mu_);
    tls_.swap(tls);
    // The old context is released here, or by the last connection using it.
  }

  const ListenerKind kind;
  const std::string_view name;  // for logs
  const Limits limits;
  Dispatcher* const dispatcher;
  tcp::acceptor acceptor;  // bound to its own strand
  Admission admission;
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};             // at max_connections, every connection in a request
  std::atomic<uint64_t> refused_per_source{0};  // at max_connections_per_source, likewise
  std::atomic<uint64_t> shed{0};                // displaced by a newer connection (listener cap)
  std::atomic<uint64_t> shed_per_source{0};     // displaced by a newer connection from its source
  std::atomic<uint64_t> handshake_timeouts{0};
  std::atomic<uint64_t> first_byte_timeouts{0};

  // ServerOptions::on_connection_limit: the last report and the counters then
  // (acceptor strand only).
  std::optional<std::chrono::steady_clock::time_point> last_report;
  ListenerStats reported;

 private:
  mutable Mutex tls_mu_;
  std::shared_ptr<ssl::context> tls_ AEGIS_GUARDED_BY(tls_mu_);
};

// What sessions need from the server besides their listener.
struct ServerContext {
  asio::io_context* io = nullptr;
  asio::io_context::executor_type workers;  // the worker pool (see server.cc)
  ConnectionRegistry* registry = nullptr;
  const ServerOptions* options = nullptr;  // on_handshake
};

// Accepts until the acceptor is closed; each connection runs on its own strand.
asio::awaitable<void> AcceptLoop(Listener& listener, ServerContext context);

}  // namespace aegis::http::internal
