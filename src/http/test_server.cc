#include "test_server.h"

#include <poll.h>

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>

#include "asio_types.h"
#include "common/testing/test_pki.h"

namespace aegis::http::testing {

using ::aegis::testing::TestPki;

using namespace internal;  // NOLINT
namespace bhttp = boost::beast::http;

namespace {

class RecordingSink : public BodySink {
 public:
  RecordingSink(std::shared_ptr<SinkRecord> record, bool fail) : record_(std::move(record)), fail_(fail) {}
  Status Write(std::span<const uint8_t> chunk) override {
    std::lock_guard lock(record_->mu);
    ++record_->writes;
    if (fail_) return Status::Unprocessable("sink refuses");
    record_->bytes.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return Status::Ok();
  }
  Response Finish() override {
    std::lock_guard lock(record_->mu);
    ++record_->finishes;
    return Response::Json(201, "{\"bytes\": " + std::to_string(record_->bytes.size()) + "}");
  }
  void Abort(const Status& why) override {
    std::lock_guard lock(record_->mu);
    ++record_->aborts;
    record_->abort_message = why.message();
  }

 private:
  std::shared_ptr<SinkRecord> record_;
  bool fail_;
};

}  // namespace

Plan TestDispatcher::Begin(const RequestHead& head) {
  {
    std::lock_guard lock(mu_);
    heads_.push_back(head);
  }
  Plan plan;
  plan.on_complete = [this](const RequestEnd& end) {
    std::lock_guard lock(mu_);
    completions_.push_back(end.status);
    byte_counts_.emplace_back(end.bytes_in, end.bytes_out);
  };
  const std::string& p = head.path;
  if (p == "/echo" && (head.method == "GET" || head.method == "HEAD")) {
    plan.handler = [](Request& r) {
      Response out = Response::Json(200, "");
      out.content_type = "text/plain";
      out.body = "method=" + r.head.method + " path=" + r.head.path + " x=" + r.head.QueryParam("x").value_or("-") +
                 " auth=" + std::string(r.head.Header("authorization").value_or("-")) +
                 " remote=" + r.head.remote_address + " id=" + r.head.request_id +
                 " listener=" + std::string(ListenerName(r.head.listener));
      return out;
    };
  } else if ((p == "/echo" && head.method == "POST") || p == "/small") {
    if (p == "/small") plan.body_limit = 16;
    plan.handler = [](Request& r) {
      Response out = Response::Json(200, r.body);
      out.content_type = "application/octet-stream";
      return out;
    };
  } else if (p == "/immediate") {
    plan.immediate = Response::Error(403, "forbidden");
  } else if (p == "/throw") {
    plan.handler = [](Request&) -> Response { throw std::runtime_error("boom"); };
  } else if (p == "/slow") {
    plan.handler = [this](Request&) {
      ++slow_started;
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      return Response::Json(200, "{\"slow\": true}");
    };
  } else if (p == "/upload" || p == "/upload-fail") {
    auto record = std::make_shared<SinkRecord>();
    {
      std::lock_guard lock(mu_);
      last_sink_ = record;
    }
    plan.body_limit = 8 << 20;
    plan.sink = std::make_unique<RecordingSink>(record, p == "/upload-fail");
  } else if (p == "/budgeted") {
    // Released when the plan goes, like the API's reservations.
    struct Hold {
      std::shared_ptr<BudgetRecord> record;
      uint64_t bytes = 0;
      ~Hold() {
        MutexLock lock(record->mu);
        record->held -= bytes;
        --record->open;
      }
    };
    auto hold = std::make_shared<Hold>();
    hold->record = budget_;
    {
      MutexLock lock(budget_->mu);
      ++budget_->open;
    }
    plan.reserve_body = [hold](uint64_t bytes) -> std::optional<Response> {
      BudgetRecord& r = *hold->record;
      MutexLock lock(r.mu);
      r.asks.push_back(bytes);
      if (r.held - hold->bytes + bytes > r.limit) {
        Response busy = Response::Error(503, "busy");
        busy.headers.emplace_back("Retry-After", "1");
        return busy;
      }
      r.held += bytes - hold->bytes;
      hold->bytes = bytes;
      return std::nullopt;
    };
    plan.handler = [](Request& r) { return Response::Json(200, std::to_string(r.body.size())); };
  } else {
    plan.immediate = Response::Error(404, "no route");
  }
  return plan;
}

void TestDispatcher::OnRejected(const RequestHead&, int status, std::string_view reason) {
  std::lock_guard lock(mu_);
  rejections_.emplace_back(status, std::string(reason));
}

std::vector<std::pair<int, std::string>> TestDispatcher::rejections() {
  std::lock_guard lock(mu_);
  return rejections_;
}

std::vector<int> TestDispatcher::completions() {
  std::lock_guard lock(mu_);
  return completions_;
}

std::vector<std::pair<uint64_t, uint64_t>> TestDispatcher::byte_counts() {
  std::lock_guard lock(mu_);
  return byte_counts_;
}

std::shared_ptr<SinkRecord> TestDispatcher::last_sink() {
  std::lock_guard lock(mu_);
  return last_sink_;
}

std::vector<RequestHead> TestDispatcher::heads() {
  std::lock_guard lock(mu_);
  return heads_;
}

Limits TestLimits() {
  Limits limits;
  limits.max_header_bytes = uint64_t{8} * 1024;
  limits.read_timeout = std::chrono::seconds(5);
  limits.write_timeout = std::chrono::seconds(5);
  limits.idle_timeout = std::chrono::seconds(5);
  limits.handshake_timeout = std::chrono::seconds(5);
  limits.max_connections = 64;
  return limits;
}

TestServer::TestServer(Limits limits, std::chrono::seconds drain, bool other_ca_cert, bool wrong_name_cert)
    : server(ServerOptions{2, 2, drain}) {
  const TestPki& pki = TestPki::Get();
  TlsFiles tls{pki.server_cert, pki.server_key};
  if (other_ca_cert) tls = {pki.other_ca_server_cert, pki.other_ca_server_key};
  if (wrong_name_cert) tls = {pki.wrong_name_cert, pki.wrong_name_key};
  Start(tls, limits);
}

TestServer::TestServer(const TlsFiles& tls, Limits limits) : server(ServerOptions{2, 2, std::chrono::seconds(5)}) {
  Start(tls, limits);
}

TestServer::TestServer(Limits limits, ServerOptions options) : server(std::move(options)) {
  const TestPki& pki = TestPki::Get();
  Start({pki.server_cert, pki.server_key}, limits);
}

void TestServer::Start(const TlsFiles& tls, const Limits& limits) {
  const Status s = server.AddListener(ListenerKind::kData, "127.0.0.1:0", tls, limits, &dispatcher);
  if (!s.ok()) throw std::runtime_error(s.message());
  port_ = server.BoundPort(ListenerKind::kData);
  runner_ = std::thread([this] { server.Run(); });
}

TestServer::~TestServer() { Stop(); }

void TestServer::Stop() {
  server.Stop();
  if (runner_.joinable()) runner_.join();
}

ClientOptions TestServer::client_options() const {
  ClientOptions o;
  o.server = url();
  o.ca_file = TestPki::Get().ca_cert;
  o.timeout_seconds = 10;
  return o;
}

struct RawTlsClient::Impl {
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<TlsStream> stream;
  beast::flat_buffer buffer;

  template <typename Start>
  error_code Await(std::chrono::milliseconds timeout, Start&& start) {
    error_code result = asio::error::would_block;
    stream->next_layer().expires_after(timeout);
    start([&result](error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }
};

RawTlsClient::RawTlsClient(uint16_t port, int max_tls_version)
    : RawTlsClient(port, RawTlsOptions{.max_tls_version = max_tls_version}) {}

RawTlsClient::RawTlsClient(uint16_t port, const RawTlsOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  SSL_CTX* ctx = d.tls.native_handle();
  if (options.client_cert && options.client_key &&
      (SSL_CTX_use_certificate_chain_file(ctx, options.client_cert->c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, options.client_key->c_str(), SSL_FILETYPE_PEM) != 1)) {
    throw std::runtime_error("cannot load client certificate " + options.client_cert->string());
  }
  if (const int max_tls_version = options.max_tls_version; max_tls_version != 0) {
    SSL_CTX_set_min_proto_version(ctx, 0);
    SSL_CTX_set_max_proto_version(ctx, max_tls_version);
    // Debian's default security level disables TLS < 1.2 in the client itself;
    // lower it so that the refusal we observe is the server's.
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  }
  d.tls.load_verify_file(TestPki::Get().ca_cert.string());
  d.tls.set_verify_mode(ssl::verify_peer);
  d.stream = std::make_unique<TlsStream>(d.io, d.tls);
  if (options.resume != nullptr) SSL_set_session(d.stream->native_handle(), options.resume);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  error_code ec;
  if (!options.source_address.empty()) {
    tcp::socket& socket = d.stream->next_layer().socket();
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind(tcp::endpoint(asio::ip::make_address(options.source_address), 0), ec);
  }
  if (!ec) {
    ec = d.Await(std::chrono::seconds(5), [&](auto h) { d.stream->next_layer().async_connect(endpoint, h); });
  }
  if (!ec && !options.handshake) return;
  if (!ec) {
    ec = d.Await(std::chrono::seconds(5),
                 [&](auto h) { d.stream->async_handshake(ssl::stream_base::client, std::move(h)); });
  }
  handshake_ok_ = !ec;
  if (ec) handshake_error_ = ec.message();
}

RawTlsClient::~RawTlsClient() = default;

SSL* RawTlsClient::native_handle() { return impl_->stream->native_handle(); }

bool RawTlsClient::Write(std::string_view bytes) {
  Impl& d = *impl_;
  return !d.Await(std::chrono::seconds(5),
                  [&](auto h) { asio::async_write(*d.stream, asio::buffer(bytes.data(), bytes.size()), h); });
}

std::string RawTlsClient::ReadResponse(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  bhttp::response<bhttp::string_body> response;
  const error_code ec = d.Await(timeout, [&](auto h) { bhttp::async_read(*d.stream, d.buffer, response, h); });
  if (ec) return {};
  std::ostringstream out;
  out << response;
  return out.str();
}

bool RawTlsClient::WaitClosed(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  // poll() rather than a timed read: beast's read deadline would close our own
  // socket and we could no longer tell who closed it.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{d.stream->next_layer().socket().native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char byte;
    const error_code ec =
        d.Await(std::chrono::seconds(5), [&](auto h) { d.stream->async_read_some(asio::buffer(&byte, 1), h); });
    if (ec) return true;
  }
}

void RawTlsClient::CloseTcp() { impl_->stream->next_layer().close(); }

std::string PlainTcpExchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  std::string received;
  error_code result;
  auto run = [&](auto start) {
    stream.expires_after(timeout);
    result = asio::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  };
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  if (run([&](auto h) { stream.async_connect(endpoint, h); })) return {};
  if (run([&](auto h) { asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), h); })) return {};
  char buf[4096];
  for (;;) {
    size_t n = 0;
    const error_code ec = run([&](auto h) {
      stream.async_read_some(asio::buffer(buf), [&n, h](error_code e, size_t got) mutable {
        n = got;
        h(e);
      });
    });
    received.append(buf, n);
    if (ec) break;
  }
  return received;
}

}  // namespace aegis::http::testing
