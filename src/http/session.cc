#include "session.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

#include "aegis/common/log.h"
#include "body_reader.h"
#include "client_certificate.h"
#include "http/internal/framing.h"
#include "request_support.h"
#include "response_writer.h"
#include "target.h"
#include "trace_ids.h"
#include "worker_hop.h"

namespace aegis::http::internal {
namespace {

namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;

constexpr size_t kIdleReadSize = size_t{16} * 1024;  // one TLS record
// The read buffer's ceiling (see kMaxHeaderBytes): Beast throws on a field of
// 64 KiB or more, which a buffer this size cannot hold.
static_assert(kMaxHeaderBytes + kIdleReadSize <= size_t{64} * 1024);
constexpr size_t kCoalesceLimit = size_t{64} * 1024;  // bodies up to this go out with the head
constexpr auto kCloseNotifyTimeout = std::chrono::seconds(2);

class Session {
 public:
  Session(std::shared_ptr<Connection> connection, Listener& listener, ServerContext context)
      : conn_(std::move(connection)),
        stream_(conn_->stream),
        listener_(listener),
        context_(std::move(context)),
        max_header_bytes_(std::min(listener_.limits.max_header_bytes, kMaxHeaderBytes)) {
    // Only a head, or a chunked body's trailer section, accumulates here (body
    // bytes pass through): bounded by the header limit plus one read, so a
    // trailer that never ends is refused (431) instead of growing without end.
    buffer_.max_size(static_cast<size_t>(max_header_bytes_) + kIdleReadSize);
  }

  asio::awaitable<void> Run() {
    error_code ec;
    const auto endpoint = conn_->transport().socket().remote_endpoint(ec);
    if (!ec) remote_ = FormatEndpoint(endpoint);
    conn_->transport().expires_after(listener_.limits.handshake_timeout);
    const auto handshake_started = Clock::now();
    co_await stream_.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == beast::error::timeout) listener_.handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
      // Refused client certificates end here too; debug only, since anyone can
      // trigger it at will.
      spdlog::debug("listener {}: TLS handshake with {} failed: {}", listener_.name, remote_, ec.message());
      conn_->transport().close();
      co_return;
    }
    if (context_.options != nullptr && context_.options->on_handshake) {
      context_.options->on_handshake(listener_.kind, Clock::now() - handshake_started);
    }
    auto client_cert = VerifiedClientCertificate(stream_.native_handle());
    if (!client_cert.ok()) {
      spdlog::warn("listener {}: closing connection from {}: {}", listener_.name, remote_,
                   client_cert.status().message());
      co_await Close();
      co_return;
    }
    client_cert_ = std::move(client_cert).value();
    conn_->phase.store(Phase::kAwaitingRequest, std::memory_order_release);
    for (bool first = true;; first = false) {
      if (buffer_.size() == 0) {
        // Before the first request only the first-byte deadline applies,
        // between requests only the idle timeout; the read timeout starts
        // with the first byte of a request.
        conn_->idle = true;
        if (conn_->stopping) break;
        if (!first) conn_->phase.store(Phase::kIdle, std::memory_order_release);
        conn_->transport().expires_after(first ? listener_.limits.first_byte_timeout : listener_.limits.idle_timeout);
        const size_t n = co_await stream_.async_read_some(buffer_.prepare(kIdleReadSize),
                                                          asio::redirect_error(asio::use_awaitable, ec));
        conn_->idle = false;
        if (ec) {
          if (first && ec == beast::error::timeout) {
            listener_.first_byte_timeouts.fetch_add(1, std::memory_order_relaxed);
          }
          break;
        }
        buffer_.commit(n);
      }
      conn_->idle = false;
      conn_->phase.store(Phase::kInRequest, std::memory_order_release);
      conn_->transport().expires_after(listener_.limits.read_timeout);
      if (!co_await ServeOne()) break;
    }
    co_await Close();
  }

 private:
  // Size of the request line and fields as sent (names, values, separators, CRLFs).
  static uint64_t HeaderBytes(const bhttp::request_header<>& msg) {
    uint64_t total = msg.method_string().size() + msg.target().size() + 12;
    for (const auto& field : msg) total += field.name_string().size() + field.value().size() + 4;
    return total + 2;
  }

  asio::awaitable<bool> ServeOne() {
    error_code ec;
    RequestParser parser;
    parser.header_limit(static_cast<uint32_t>(max_header_bytes_));
    // The real limit comes from the Plan; Beast would otherwise refuse a large
    // Content-Length with its own default before the dispatcher is asked.
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    Request request;
    RequestHead& head = request.head;
    head.remote_address = remote_;
    head.listener = listener_.kind;
    head.request_id = NewRequestId();
    head.client_cert = client_cert_;
    framing_ = {};  // refusals before the head is parsed answer as HTTP/1.1
    // Every response names its request, refusals before the head parsed too.
    request_id_ = head.request_id;
    traceparent_.clear();

    const size_t head_end = co_await ReadHead(ec);
    if (ec) {
      co_await RefuseForReadError(head, ec);
      co_return false;
    }
    if (head_end != std::string_view::npos) {
      if (const auto bad = CheckHeadBytes(BufferedText().substr(0, head_end))) {
        co_await Refuse(head, bad->status, bad->reason);
        co_return false;
      }
    }
    co_await bhttp::async_read_header(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_await RefuseForReadError(head, ec);
      co_return false;
    }
    const auto started = Clock::now();
    const auto& msg = parser.get();
    FillHead(parser, head);
    AdoptClientIds(head);
    request_id_ = head.request_id;
    traceparent_ = head.traceparent;
    framing_ = {msg.keep_alive() && !conn_->stopping, msg.version() == 10 ? 10u : 11u,
                msg.method() == bhttp::verb::head};
    if (msg.version() != 10 && msg.version() != 11) {
      co_await Refuse(head, 505, "HTTP version not supported");
      co_return false;
    }
    // Host, Content-Length, Transfer-Encoding and the other fields a proxy could
    // read differently: refused (and the connection closed) unless unambiguous.
    if (const auto bad = CheckFraming(msg)) {
      co_await Refuse(head, bad->status, bad->reason);
      co_return false;
    }
    // Beast enforces header_limit only while the head is still arriving; a head
    // that lands in one read can exceed it. Measure what was actually accepted.
    if (HeaderBytes(msg) > max_header_bytes_) {
      co_await Refuse(head, 431, "request header too large");
      co_return false;
    }
    auto target = ParseTarget(head.target);
    if (!target.ok()) {
      co_await Refuse(head, 400, target.status().message());
      co_return false;
    }
    head.path = std::move(target->path);
    head.query = std::move(target->query);

    Plan plan;
    try {
      plan = listener_.dispatcher->Begin(head);
    } catch (const std::exception& e) {
      log::Error({.request_id = head.request_id}, "dispatcher threw: {}", e.what());
      plan = Plan{};
      plan.immediate = Response::Error(500, "internal error");
    } catch (...) {
      log::Error({.request_id = head.request_id}, "dispatcher threw");
      plan = Plan{};
      plan.immediate = Response::Error(500, "internal error");
    }
    if (!plan.immediate && !plan.sink && !plan.handler && !plan.async_handler) {
      log::Error({.request_id = head.request_id}, "dispatcher returned an empty plan");
      plan.immediate = Response::Error(500, "internal error");
    }
    Completion completion(plan.on_complete, started);
    std::optional<SinkSession> sink;
    if (plan.sink) sink.emplace(*plan.sink);
    const bool keep_alive = co_await Execute(plan, request, parser, sink, completion);
    // Whatever path ended the request, a sink that saw neither Finish nor Abort
    // is aborted here, on the worker pool like its other calls.
    if (sink && sink->open()) {
      co_await OnWorker(context_.workers, [&]() noexcept { return sink->Abort(sink->failure()); });
    }
    co_return keep_alive;
  }

  std::string_view BufferedText() const { return {static_cast<const char*>(buffer_.data().data()), buffer_.size()}; }

  // Reads until buffer_ holds a whole head, so that its raw bytes can be checked
  // before Beast parses (and unfolds) them. Returns the offset just past the
  // head, or npos when Beast will refuse what arrived anyway: more than the
  // header limit without an end (431), or a head already malformed (400).
  asio::awaitable<size_t> ReadHead(error_code& ec) {
    ec = {};
    size_t searched = 0;
    size_t probed = 0;  // what was buffered at the last early-refusal probe
    for (;;) {
      const std::string_view data = BufferedText();
      const size_t end = FindHeadEnd(data, searched);
      if (end != std::string_view::npos || data.size() > max_header_bytes_) co_return end;
      // A probe re-parses everything buffered, and a client may send one byte
      // per TLS record: probing only once the buffer has doubled keeps the
      // probes' total work within twice the head's size instead of its square,
      // at the price of noticing garbage a few bytes later.
      if (!data.empty() && data.size() >= 2 * probed) {
        if (RefusedBeforeHeadEnd(data)) co_return std::string_view::npos;
        probed = data.size();
      }
      searched = data.size();
      const size_t n = co_await stream_.async_read_some(buffer_.prepare(kIdleReadSize),
                                                        asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return std::string_view::npos;
      buffer_.commit(n);
    }
  }

  // Carries out a plan: answer at once, or read the body (streamed or whole)
  // and answer with what the sink or handler produced. Returns keep-alive.
  asio::awaitable<bool> Execute(Plan& plan, Request& request, RequestParser& parser, std::optional<SinkSession>& sink,
                                Completion& completion) {
    error_code ec;
    const RequestHead& head = request.head;
    if (plan.immediate) {
      // The unread body would be taken for the next request: close instead.
      if (!parser.is_done()) framing_.keep_alive = false;
      if (sink) sink->Fail(Status::Unavailable("request answered without reading the body"));
      co_await Answer(*plan.immediate, completion);
      co_return framing_.keep_alive;
    }
    if (head.content_length && *head.content_length > plan.body_limit) {
      if (sink) sink->Fail(Status::TooLarge("request body too large"));
      co_await Refuse(head, 413, "request body too large");
      completion.SetBytesOut(sent_bytes_);
      completion.Report(413, "request body too large");
      co_return false;
    }
    parser.body_limit(plan.body_limit);
    // The memory budget of a buffered body: the declared size before any body
    // byte is read (and before 100 Continue invites it), a chunked body as its
    // buffer grows. A refusal leaves the body unread.
    std::optional<Response> refusal;
    const std::function<bool(uint64_t)> admit = [&](uint64_t bytes) {
      if (plan.reserve_body) refusal = plan.reserve_body(bytes);
      return !refusal;
    };
    if (!sink && head.content_length && !parser.is_done() && !admit(*head.content_length)) {
      framing_.keep_alive = false;
      co_await Answer(*refusal, completion);
      co_return false;
    }
    if (!parser.is_done() && ExpectsContinue(head)) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(stream_, asio::buffer(kContinue), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return false;
    }

    BodyReader reader(stream_, buffer_, parser);
    Response response;
    if (sink) {
      chunk_.resize(kSinkChunk);
      while (!reader.done()) {
        const size_t n = co_await reader.Read(chunk_.data(), chunk_.size(), ec);
        completion.AddBytesIn(n);
        if (ec) {
          const ReadFailure failure = ClassifyReadError(ec);
          sink->Fail(failure.AsStatus());
          co_await RefuseForReadError(head, ec);
          completion.SetBytesOut(sent_bytes_);
          completion.Report(failure.status, failure.reason);
          co_return false;
        }
        const std::span<const uint8_t> piece(chunk_.data(), n);
        const Status written = co_await OnWorker(context_.workers, [&]() noexcept { return sink->Write(piece); });
        if (!written.ok()) {
          // The sink refused the data: its error is the answer.
          sink->Fail(written);
          framing_.keep_alive = false;
          const Response refusal = Response::Error(written);
          co_await Answer(refusal, completion);
          co_return false;
        }
      }
      response = co_await OnWorker(context_.workers, [&]() noexcept { return sink->Finish(); });
    } else {
      co_await reader.ReadAll(request.body, head.content_length, plan.body_limit, admit, ec);
      completion.AddBytesIn(request.body.size());
      if (refusal) {
        framing_.keep_alive = false;
        co_await Answer(*refusal, completion);
        co_return false;
      }
      if (ec) {
        const ReadFailure failure = ClassifyReadError(ec);
        co_await RefuseForReadError(head, ec);
        completion.SetBytesOut(sent_bytes_);
        completion.Report(failure.status, failure.reason);
        co_return false;
      }
      if (plan.async_handler && plan.async_handler_is_cheap) {
        response = co_await HereAsync(
            [&](Reply reply) noexcept { CallAsyncHandler(plan.async_handler, request, std::move(reply)); });
      } else if (plan.async_handler) {
        response = co_await OnWorkerAsync(context_.workers, [&](Reply reply) noexcept {
          CallAsyncHandler(plan.async_handler, request, std::move(reply));
        });
      } else {
        response = co_await OnWorker(context_.workers, [&]() noexcept { return CallHandler(plan.handler, request); });
      }
    }
    // Stop() may have arrived while the handler ran.
    if (conn_->stopping) framing_.keep_alive = false;
    co_await Answer(response, completion);
    co_return framing_.keep_alive;
  }

  static bool ExpectsContinue(const RequestHead& head) {
    const auto expect = head.Header("expect");
    return expect && beast::iequals(*expect, "100-continue");
  }

  // Audits a refusal and answers it with a JSON error; the connection is then
  // closed, since the rest of what the client sent cannot be trusted.
  asio::awaitable<void> Refuse(const RequestHead& head, int status, std::string_view reason) {
    try {
      listener_.dispatcher->OnRejected(head, status, reason);
    } catch (const std::exception& e) {
      spdlog::error("OnRejected threw: {}", e.what());
    }
    framing_.keep_alive = false;
    co_await Send(Response::Error(status, reason));
  }

  asio::awaitable<void> RefuseForReadError(const RequestHead& head, const error_code& ec) {
    const ReadFailure failure = ClassifyReadError(ec);
    if (!failure.audit) co_return;  // the client simply left
    if (!failure.respond) {
      try {
        listener_.dispatcher->OnRejected(head, failure.status, failure.reason);
      } catch (const std::exception& e) {
        spdlog::error("OnRejected threw: {}", e.what());
      }
      co_return;
    }
    // Beast's messages ("bad target", "header limit exceeded") are static text,
    // safe to show the client.
    std::string reason = failure.reason;
    if (failure.status == 400) reason += ": " + ec.message();
    co_await Refuse(head, failure.status, reason);
  }

  // Sends `response` and reports the request's end: its status and error, or
  // 499 when it could not be written.
  asio::awaitable<void> Answer(const Response& response, Completion& completion) {
    const bool sent = co_await Send(response);
    completion.SetBytesOut(sent_bytes_);
    if (sent) {
      completion.Report(response.status, response.error);
    } else {
      completion.Report(499);
    }
  }

  // Head and body in one TLS write when the body is small.
  asio::awaitable<bool> Send(const Response& response) {
    error_code ec;
    sent_bytes_ = 0;
    out_.clear();
    const ResponseIds ids{request_id_, traceparent_};
    AppendResponseHead(response, framing_, out_, ids);
    const bool with_body = HasBody(response, framing_) && !response.body.empty();
    conn_->transport().expires_after(listener_.limits.write_timeout);
    if (with_body && response.body.size() > kCoalesceLimit) {
      const std::array<asio::const_buffer, 2> buffers{asio::buffer(out_), asio::buffer(response.body)};
      sent_bytes_ = co_await asio::async_write(stream_, buffers, asio::redirect_error(asio::use_awaitable, ec));
    } else {
      if (with_body) out_ += response.body;
      sent_bytes_ =
          co_await asio::async_write(stream_, asio::buffer(out_), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (out_.capacity() > 4 * kCoalesceLimit) std::string().swap(out_);  // do not pin big buffers
    if (ec) framing_.keep_alive = false;
    co_return !ec;
  }

  // close_notify without waiting for the peer's: marking the peer's as received
  // makes the shutdown a single write, so a silent client cannot hold us here.
  asio::awaitable<void> Close() {
    if (!conn_->transport().socket().is_open()) co_return;
    error_code ec;
    SSL_set_shutdown(stream_.native_handle(), SSL_get_shutdown(stream_.native_handle()) | SSL_RECEIVED_SHUTDOWN);
    conn_->transport().expires_after(kCloseNotifyTimeout);
    co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    conn_->transport().close();
  }

  std::shared_ptr<Connection> conn_;
  TlsStream& stream_;
  Listener& listener_;
  ServerContext context_;
  const uint64_t max_header_bytes_;  // the listener's, at most kMaxHeaderBytes
  beast::flat_buffer buffer_;        // reused across requests on this connection
  std::string out_;                  // serialized response, reused
  std::vector<uint8_t> chunk_;       // streamed-body chunk, allocated on first upload
  std::string remote_;
  std::shared_ptr<const ClientCertificate> client_cert_;  // verified at handshake; null if anonymous
  ResponseFraming framing_;
  uint64_t sent_bytes_ = 0;  // what the last Send wrote
  std::string request_id_;   // the current request's (RequestHead::request_id)
  std::string traceparent_;  // the current request's valid traceparent, or empty
};

}  // namespace

asio::awaitable<void> RunSession(std::shared_ptr<Connection> connection, Listener& listener, ServerContext context) {
  struct Release {
    std::shared_ptr<Connection>& connection;
    Listener& listener;
    ConnectionRegistry& registry;
    ~Release() {
      registry.Remove(connection);
      listener.admission.Release(*connection);
    }
  } release{connection, listener, *context.registry};
  if (!context.registry->Add(connection)) connection->stopping = true;
  try {
    Session session(connection, listener, context);
    co_await session.Run();
  } catch (const std::exception& e) {
    spdlog::error("listener {}: session failed: {}", listener.name, e.what());
    connection->transport().close();
  }
}

}  // namespace aegis::http::internal
