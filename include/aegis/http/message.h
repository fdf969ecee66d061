// The HTTP request/response types shared by the server and the API layer, free of
// Boost so that handlers and tests do not pull in Beast.
//
// Thread-safety: value types.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::http {

// A client certificate the TLS handshake verified against the listener's client CA.
struct ClientCertificate {
  std::string subject;  // RFC 2253, e.g. "CN=scorer,O=Acme"
  // "DNS:host", "URI:spiffe://…", "email:a@b", "IP:10.0.0.1" / "IP:fd00::1", in
  // certificate order; entries that are not visible ASCII (NUL, control
  // characters, spaces, bytes over 0x7E) and other name types are left out.
  std::vector<std::string> sans;
  std::string fingerprint;  // lowercase hex SHA-256 of the DER certificate
};

// The listeners a server has: the data plane, the control (admin) plane, and
// the optional dedicated metrics listener (GET /metrics only).
enum class ListenerKind { kData, kAdmin, kMetrics };
// "data" | "admin" | "metrics" (logs, metrics labels, the test echo).
std::string_view ListenerName(ListenerKind kind);

// Everything known once the request line and headers are read, before the body.
struct RequestHead {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target
  std::string path;    // target without the query, percent-decoded; never contains ".."
  std::string query;   // raw query string without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::optional<uint64_t> content_length;
  std::string remote_address;  // "ip:port"
  // The request's id, sent back in every response's X-Request-Id: the client's
  // own X-Request-Id when it sent exactly one of a safe shape (1-128 of
  // A-Z a-z 0-9 - _ . :), else server-assigned, unique per request (16 hex).
  std::string request_id;
  bool request_id_from_client = false;  // request_id is the client's X-Request-Id
  // The client's W3C traceparent when it sent exactly one valid version-00
  // value (echoed in the response), else empty.
  std::string traceparent;
  ListenerKind listener = ListenerKind::kData;  // the listener that accepted the connection
  // Set only when the client presented a certificate that chains to the
  // listener's client CA (mutual TLS); the same for every request of a connection.
  std::shared_ptr<const ClientCertificate> client_cert;

  // First header with `name` (lowercase), if any.
  std::optional<std::string_view> Header(std::string_view name) const;
  // Value of query parameter `key` (percent-decoded), if any.
  std::optional<std::string> QueryParam(std::string_view key) const;
};

struct Request {
  RequestHead head;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // The message of an Error() response (what its {"error"} body says), for the
  // audit event of a failed request; empty for every other response. Not sent.
  std::string error;

  static Response Json(int status, std::string body);
  // {"error": "<message>"} with the status for `status.code()`.
  static Response Error(const Status& status);
  static Response Error(int http_status, std::string_view message);
};

// Receives a streamed request body (uploads). Calls happen on the worker pool,
// one at a time, in order.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual Status Write(std::span<const uint8_t> chunk) = 0;
  // The whole body arrived. Produces the response.
  virtual Response Finish() = 0;
  // The body did not arrive completely (client gone, timeout, limit). Undo everything.
  virtual void Abort(const Status& why) = 0;
};

// Delivers the response of an asynchronous handler. Call it exactly once, from
// any thread; a Reply dropped without a call answers 500, so a request can never
// hang on a lost callback.
class Reply {
 public:
  explicit Reply(std::function<void(Response)> deliver);
  void operator()(Response response) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// How a request ended (Plan::on_complete).
struct RequestEnd {
  int status = 0;                       // the final HTTP status; 499 when no response was written
  std::chrono::nanoseconds latency{0};  // since the head was read
  // The error the response carried (Response::error): empty when it was not
  // an error, or when no response was written.
  std::string_view error;
  uint64_t bytes_in = 0;   // request body bytes read
  uint64_t bytes_out = 0;  // response bytes written, head included
};

// What to do with a request, decided from its head on the I/O thread.
struct Plan {
  // If set, answer at once without reading the body (auth failure, unknown route).
  std::optional<Response> immediate;
  // Largest body accepted for this request; more gets 413.
  uint64_t body_limit = 64ull << 20;
  // Stream the body to `sink`; or buffer it and call `handler` on the worker pool;
  // or buffer it and call `async_handler` on the worker pool, which answers
  // through the Reply when it is ready (an inference waiting for its model's
  // engine worker does not hold a pool thread). `request` stays valid until then.
  std::unique_ptr<BodySink> sink;
  std::function<Response(Request&)> handler;
  std::function<void(Request& request, Reply reply)> async_handler;
  // The async_handler is cheap (it parses a small body and hands the request to
  // another thread): call it on the I/O thread, which saves a hop to the worker
  // pool and back.
  bool async_handler_is_cheap = false;
  // Memory accounting for a buffered body (handler or async_handler; a sink's
  // pieces are not buffered). Before the server lets the body's buffer hold
  // `bytes` in total it calls reserve_body(bytes): once with the Content-Length
  // before any body byte is read, or, for a chunked body, at each growth of the
  // buffer as the chunks arrive. A returned Response refuses the request: it is
  // sent as it is (e.g. 503 with Retry-After) and the connection is closed,
  // since the body is left unread. Whatever it reserved must be released when
  // the Plan is destroyed (capture an RAII reservation), which every way of
  // ending a request does. Unset: no accounting.
  std::function<std::optional<Response>(uint64_t bytes)> reserve_body;
  // Called exactly once when the request ends (response written or connection
  // lost), with how it ended.
  std::function<void(const RequestEnd& end)> on_complete;
  // Held until the request ends (the Plan is destroyed however it ends): a
  // slot of the principal's concurrency cap.
  std::shared_ptr<const void> held;
};

// The API layer implements this; the server calls Begin on an I/O thread for
// every request whose head parsed and passed the server's own checks.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual Plan Begin(const RequestHead& head) = 0;
  // A request the server refused itself (malformed HTTP, header too large,
  // body over limit, bad target, timeout) — for the audit log. `head` may be
  // partial. A request Begin saw (its `head.path` is set) also ends through its
  // Plan's on_complete; one refused before (path empty) ends only here.
  virtual void OnRejected(const RequestHead& head, int status, std::string_view reason) = 0;
};

}  // namespace aegis::http
