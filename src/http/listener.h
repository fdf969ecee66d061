// A listener: one bound TLS port with its limits, dispatcher and connection cap,
// and the coroutine that accepts on it.
//
// Thread-safety: the acceptor is used only on its own strand; counters are atomic.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

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
        tls(std::move(tls)),
        acceptor(std::move(acceptor)) {}

  const ListenerKind kind;
  const std::string_view name;  // for logs
  const Limits limits;
  Dispatcher* const dispatcher;
  const std::shared_ptr<ssl::context> tls;
  tcp::acceptor acceptor;  // bound to its own strand
  std::atomic<int> active{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};  // over max_connections
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
