// The server's view of its live connections, for graceful shutdown: Stop() asks
// each connection to finish its current request and closes the idle ones; after
// the drain timeout the rest are closed outright. Run() waits here until every
// connection and accept loop has exited, so no coroutine is left suspended when
// the io_context stops (Asio 1.74 would otherwise leak its frames).
//
// Thread-safety: all methods are safe to call from any thread. Connection's
// flags are touched only on the connection's strand.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "admission.h"
#include "asio_types.h"

namespace aegis::http::internal {

struct Connection {
  Connection(tcp::socket socket, std::shared_ptr<ssl::context> tls)
      : tls_context(std::move(tls)), stream(beast::tcp_stream(std::move(socket)), *tls_context) {}
  beast::tcp_stream& transport() { return stream.next_layer(); }

  // The listener's TLS context when the connection was accepted: kept alive
  // (declared before the stream, so destroyed after it) however many times
  // the listener's is replaced meanwhile.
  const std::shared_ptr<ssl::context> tls_context;
  TlsStream stream;
  bool idle = true;       // no request in progress: Stop() may close it at once
  bool stopping = false;  // finish the current request, then close
  // Written on the connection's strand, read by Admission at accept.
  std::atomic<Phase> phase{Phase::kHandshake};
  AdmissionEntry admission;  // guarded by the listener's Admission
};

class ConnectionRegistry {
 public:
  // Returns false when the server is already stopping (the caller then marks the
  // connection stopping so it closes after at most one request).
  bool Add(const std::shared_ptr<Connection>& connection);
  void Remove(const std::shared_ptr<Connection>& connection);
  // Accept loops count as tasks so that Run() also waits for them.
  void AddTask();
  void RemoveTask();

  // Returns false if a stop was already requested.
  bool RequestStop();
  bool stop_requested() const;
  void WaitForStopRequest();
  // Asks every connection to finish; idle ones are closed now.
  void DrainAll();
  // Closes every connection's socket; requests in handlers finish but cannot answer.
  void CloseAll();
  // Waits until no connection or task is left (or the deadline passes).
  bool WaitUntilEmpty(std::optional<std::chrono::steady_clock::time_point> deadline);
  size_t size() const;

 private:
  // Runs `action` on every live connection, each on its own executor.
  void PostToAll(void (*action)(Connection&));
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  int tasks_ = 0;
  std::unordered_set<std::shared_ptr<Connection>> connections_;
};

}  // namespace aegis::http::internal
