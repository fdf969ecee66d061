// Test fixtures for the http module: a Dispatcher with a few echo-style routes
// that records what the server reported, a server running on a background
// thread, and a raw TLS client for sending exactly the bytes a test wants.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "aegis/common/mutex.h"
#include "aegis/http/client.h"
#include "aegis/http/server.h"
#include "common/testing/wait_for.h"

namespace aegis::http::testing {

using ::aegis::testing::WaitFor;

// What a streaming upload's sink saw.
struct SinkRecord {
  std::mutex mu;
  std::string bytes;
  int writes = 0;
  int finishes = 0;
  int aborts = 0;
  std::string abort_message;
};

// The memory budget of POST /budgeted: what reserve_body was asked, what is
// held, and how many plans still hold a reservation.
struct BudgetRecord {
  Mutex mu;
  uint64_t limit AEGIS_GUARDED_BY(mu) = 1 << 20;
  uint64_t held AEGIS_GUARDED_BY(mu) = 0;
  int open AEGIS_GUARDED_BY(mu) = 0;
  std::vector<uint64_t> asks AEGIS_GUARDED_BY(mu);
};

// Routes:
//   GET  /echo     text: method, path, query param x, authorization, remote, id, listener
//   POST /echo     the body back
//   POST /small    the body back, body_limit 16
//   *    /immediate  403 without reading the body
//   GET  /throw    handler throws
//   GET  /slow     handler sleeps 1.5 s
//   POST /upload   streamed to a sink (body_limit 8 MiB); POST /upload-fail: sink refuses writes
//   POST /budgeted the body's size back; reserve_body against budget() (503 + Retry-After over it)
//   else           404
class TestDispatcher : public Dispatcher {
 public:
  Plan Begin(const RequestHead& head) override;
  void OnRejected(const RequestHead& head, int status, std::string_view reason) override;

  std::vector<std::pair<int, std::string>> rejections();
  std::vector<int> completions();
  // RequestEnd::bytes_in and bytes_out of each completion, in order.
  std::vector<std::pair<uint64_t, uint64_t>> byte_counts();
  std::shared_ptr<SinkRecord> last_sink();
  // Every head passed to Begin, in order.
  std::vector<RequestHead> heads();

  std::atomic<int> slow_started{0};
  BudgetRecord& budget() { return *budget_; }

 private:
  std::mutex mu_;
  std::vector<std::pair<int, std::string>> rejections_;
  std::vector<int> completions_;
  std::vector<std::pair<uint64_t, uint64_t>> byte_counts_;
  std::shared_ptr<SinkRecord> last_sink_;
  std::vector<RequestHead> heads_;
  std::shared_ptr<BudgetRecord> budget_ = std::make_shared<BudgetRecord>();
};

Limits TestLimits();

// A server with one listener "data" on 127.0.0.1:0, running on a thread.
class TestServer {
 public:
  explicit TestServer(Limits limits = TestLimits(), std::chrono::seconds drain = std::chrono::seconds(5),
                      bool other_ca_cert = false, bool wrong_name_cert = false);
  // Listener "data" with exactly `tls` (e.g. a client CA for mutual TLS).
  explicit TestServer(const TlsFiles& tls, Limits limits = TestLimits());
  // With these server options (callbacks) and the test certificate.
  TestServer(Limits limits, ServerOptions options);
  ~TestServer();
  void Stop();  // Stop() and join Run()'s thread

  uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  ClientOptions client_options() const;

  TestDispatcher dispatcher;
  HttpsServer server;

 private:
  void Start(const TlsFiles& tls, const Limits& limits);

  uint16_t port_ = 0;
  std::thread runner_;
};

struct RawTlsOptions {
  int max_tls_version = 0;  // 0 for the default, else e.g. TLS1_2_VERSION
  // Mutual TLS: a client certificate chain and key (PEM), sent when asked for.
  std::optional<std::filesystem::path> client_cert, client_key;
  SSL_SESSION* resume = nullptr;  // offered for resumption (not owned)
  std::string source_address;     // bind to this local address first (e.g. "127.0.0.2")
  bool handshake = true;          // false: connect only, no TLS handshake
};

// A TLS connection under the test's full control (raw bytes, TLS versions,
// client certificates, session resumption).
class RawTlsClient {
 public:
  // max_tls_version: 0 for the default, else e.g. TLS1_1_VERSION.
  RawTlsClient(uint16_t port, int max_tls_version = 0);
  RawTlsClient(uint16_t port, const RawTlsOptions& options);
  ~RawTlsClient();
  bool handshake_ok() const { return handshake_ok_; }
  const std::string& handshake_error() const { return handshake_error_; }
  // The connection's OpenSSL object (session, CA names the server asked for...).
  SSL* native_handle();

  bool Write(std::string_view bytes);
  // Reads one HTTP response; empty string on error/EOF/timeout.
  std::string ReadResponse(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True if the server closed the connection (EOF or error) within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout);
  void CloseTcp();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool handshake_ok_ = false;
  std::string handshake_error_;
};

// Plain TCP: sends `bytes`, returns everything received until close or timeout.
std::string PlainTcpExchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout);

}  // namespace aegis::http::testing
