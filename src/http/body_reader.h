// Request-body reading for the server: a Beast buffer_body parser read straight
// into caller memory (no intermediate copies), the mapping from read errors to
// HTTP refusals, and SinkSession, which guarantees a BodySink sees Finish or
// Abort exactly once and that nothing it throws escapes.
//
// Thread-safety: BodyReader runs on the connection's strand. SinkSession calls
// run on the worker pool one at a time; its destructor runs on the strand.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "aegis/http/message.h"
#include "asio_types.h"

namespace aegis::http::internal {

using RequestParser = beast::http::request_parser<beast::http::buffer_body>;

// Uploads are handed to sinks in pieces of this size.
constexpr size_t kSinkChunk = size_t{256} * 1024;

// How a failed read of a request ends.
struct ReadFailure {
  int status = 499;  // 499: the client went away
  const char* reason = "client disconnected";
  bool respond = false;     // the connection can still carry an error response
  bool audit = false;       // worth an OnRejected call (not a plain disconnect)
  Status AsStatus() const;  // for BodySink::Abort
};
ReadFailure ClassifyReadError(const error_code& ec);

class BodyReader {
 public:
  BodyReader(TlsStream& stream, beast::flat_buffer& buffer, RequestParser& parser)
      : stream_(stream), buffer_(buffer), parser_(parser) {}

  bool done() const { return parser_.is_done(); }
  // Reads up to `capacity` body bytes into `data`; returns how many (0 when done).
  asio::awaitable<size_t> Read(void* data, size_t capacity, error_code& ec);
  // Reads the whole body into `body`. With a Content-Length (`declared`, already
  // within the limit and accounted by the caller) the buffer is allocated once
  // at that size and filled as bytes arrive: no reallocation, so the body never
  // takes more than it declared, and pages are touched only as data lands.
  // Without one (chunked) the buffer doubles from 64 KiB up to `limit`, and
  // `admit(n)` is asked before it grows to n bytes; false stops the read with
  // ec = asio::error::no_buffer_space and leaves the body unread.
  asio::awaitable<void> ReadAll(std::string& body, std::optional<uint64_t> declared, uint64_t limit,
                                const std::function<bool(uint64_t)>& admit, error_code& ec);

 private:
  TlsStream& stream_;
  beast::flat_buffer& buffer_;
  RequestParser& parser_;
};

class SinkSession {
 public:
  explicit SinkSession(BodySink& sink) : sink_(sink) {}
  SinkSession(const SinkSession&) = delete;
  SinkSession& operator=(const SinkSession&) = delete;
  // Last resort if the request is torn down without reaching Finish or Abort.
  ~SinkSession();

  Status Write(std::span<const uint8_t> chunk) noexcept;
  Response Finish() noexcept;
  bool Abort(const Status& why) noexcept;  // returns whether Abort was called now

  // Records why the request failed, for the Abort that follows.
  void Fail(Status why) { failure_ = std::move(why); }
  const Status& failure() const { return failure_; }
  // Neither Finish nor Abort has been called yet.
  bool open() const { return !ended_; }

 private:
  BodySink& sink_;
  bool ended_ = false;
  Status failure_ = Status::Unavailable("request ended before the body was read");
};

}  // namespace aegis::http::internal
