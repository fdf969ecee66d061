#include "listener.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "session.h"

namespace aegis::http::internal {

asio::awaitable<void> AcceptLoop(Listener& listener, ServerContext context) {
  struct TaskGuard {
    ConnectionRegistry* registry;
    ~TaskGuard() { registry->RemoveTask(); }
  } task_guard{context.registry};

  for (;;) {
    error_code ec;
    // Each connection gets its own strand: several I/O threads share the
    // io_context, and a connection's operations must never run concurrently.
    tcp::socket socket = co_await listener.acceptor.async_accept(asio::any_io_executor(asio::make_strand(*context.io)),
                                                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !listener.acceptor.is_open()) break;
      // Typically EMFILE/ENFILE: back off instead of spinning on the error.
      spdlog::warn("listener {}: accept failed: {}", listener.name, ec.message());
      asio::steady_timer backoff(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!listener.acceptor.is_open()) break;
      continue;
    }
    if (listener.active.fetch_add(1) >= listener.limits.max_connections) {
      listener.active.fetch_sub(1);
      const uint64_t refused = listener.refused.fetch_add(1) + 1;
      // Logged sparsely: a flood of refusals must not become a flood of logs.
      if ((refused & (refused - 1)) == 0) {
        spdlog::warn("listener {}: connection limit {} reached ({} refused so far)", listener.name,
                     listener.limits.max_connections, refused);
      }
      socket.close(ec);
      continue;
    }
    listener.accepted.fetch_add(1);
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = std::make_shared<Connection>(std::move(socket), *listener.tls);
    asio::co_spawn(connection->stream.get_executor(), RunSession(connection, listener, context), asio::detached);
  }
}

}  // namespace aegis::http::internal
