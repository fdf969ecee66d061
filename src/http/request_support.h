// Per-request helpers for the session: request ids, the RequestHead built from
// Beast's parsed header, the exactly-once on_complete guard, and the handler
// call that turns exceptions into a 500.
//
// Thread-safety: NewRequestId is safe from any thread; the rest is used on one
// connection's strand (CallHandler on the worker pool).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "aegis/http/message.h"
#include "asio_types.h"
#include "body_reader.h"

namespace aegis::http::internal {

// 16 lowercase hex characters from RAND_bytes.
std::string NewRequestId();
// "ip:port", IPv6 as "[ip]:port".
std::string FormatEndpoint(const tcp::endpoint& endpoint);
// Method, target, lowercased headers and Content-Length from the parsed head.
void FillHead(const RequestParser& parser, RequestHead& head);
// Runs the handler; an exception becomes a logged 500 and never escapes.
Response CallHandler(const std::function<Response(Request&)>& handler, Request& request) noexcept;
// The same for an asynchronous handler: an exception answers 500 through `reply`.
void CallAsyncHandler(const std::function<void(Request&, Reply)>& handler, Request& request, Reply reply) noexcept;

// Calls on_complete exactly once: with the final status, or 499 if the request
// ends any other way (the client left, the server was torn down).
class Completion {
 public:
  using Callback = std::function<void(const RequestEnd&)>;
  Completion(const Callback& callback, std::chrono::steady_clock::time_point start)
      : callback_(callback), start_(start) {}
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion() { Report(499); }
  // Body bytes read, and response bytes written, so far.
  void AddBytesIn(uint64_t n) { bytes_in_ += n; }
  void SetBytesOut(uint64_t n) { bytes_out_ = n; }
  void Report(int status, std::string_view error = {});

 private:
  const Callback& callback_;
  std::chrono::steady_clock::time_point start_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  bool reported_ = false;
};

}  // namespace aegis::http::internal
