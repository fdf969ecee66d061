// One TLS connection: handshake, then HTTP/1.1 requests with keep-alive until
// the client leaves, a limit or timeout trips, or the server stops. A client
// certificate verified in the handshake (mutual TLS) is described once and
// shared by every RequestHead of the connection.
//
// Thread-safety: a session runs on its connection's strand; handler and body
// sink calls hop to the worker pool and back.
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "connection_registry.h"
#include "listener.h"

namespace aegis::http::internal {

// Registers the connection for shutdown, serves it, and releases its slot in
// the listener's connection count when done. Never throws.
asio::awaitable<void> RunSession(std::shared_ptr<Connection> connection, Listener& listener, ServerContext context);

}  // namespace aegis::http::internal
