// HttpsClient: blocking HTTPS/1.1 over ssl::stream<beast::tcp_stream>. Every
// operation is asynchronous under the hood so that beast's per-operation
// deadlines apply; the calling thread runs the private io_context until the
// operation completes. The peer is always verified (chain + host name).
#include "aegis/http/client.h"

#include <fstream>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "aegis/http/host_port.h"
#include "asio_types.h"
#include "tls_context.h"

namespace aegis::http {

using namespace internal;  // NOLINT: the implementation's own namespace
namespace bhttp = boost::beast::http;

namespace {

constexpr size_t kUploadChunk = 1 << 20;

// Requests are built from CLI arguments: refuse anything that could split the
// request line or headers.
Status CheckRequestLine(const std::string& method, const std::string& target) {
  if (method.empty() || method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
    return Status::InvalidArgument("bad HTTP method '" + method + "'");
  }
  if (target.empty() || target.front() != '/') return Status::InvalidArgument("request target must start with '/'");
  for (const char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return Status::InvalidArgument("request target contains a space or control character");
    }
  }
  return Status::Ok();
}

// Mutual TLS: the chain is sent when the server asks for a certificate. OpenSSL
// checks the key against the certificate while loading it; the explicit check
// also covers a key file that loaded before the certificate did not.
Status LoadClientIdentity(SSL_CTX* ctx, const ClientOptions& options) {
  if (options.client_cert.has_value() != options.client_key.has_value()) {
    return Status::InvalidArgument("a client certificate and its private key go together: set both or neither");
  }
  if (!options.client_cert) return Status::Ok();
  const std::string cert = options.client_cert->string();
  const std::string key = options.client_key->string();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return Status::InvalidArgument("cannot load client certificate '" + cert + "': " + TakeOpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Status::InvalidArgument("client key '" + key + "' does not match client certificate '" + cert + "'");
    }
    return Status::InvalidArgument("cannot load client key '" + key + "': " + TakeOpenSslError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("client key '" + key + "' does not match client certificate '" + cert + "'");
  }
  return Status::Ok();
}

// An alert from the server. With TLS 1.3 the client's side of the handshake
// completes before the server has judged the client certificate, so a refused
// (or missing) certificate shows up as an alert on the first read.
bool IsTlsAlert(const error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) >= SSL_AD_REASON_OFFSET;
}

bool ConnectionWentAway(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated || ec == bhttp::error::end_of_stream;
}

}  // namespace

struct HttpsClient::Impl {
  ClientOptions options;
  HostPort server;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<TlsStream> stream;  // null while disconnected
  beast::flat_buffer buffer;
  bool head_request = false;  // the request in flight is a HEAD

  std::chrono::seconds timeout() const { return std::chrono::seconds(options.timeout_seconds); }
  std::string origin() const {
    const bool v6 = server.host.find(':') != std::string::npos;
    return (v6 ? "[" + server.host + "]" : server.host) + ":" + std::to_string(server.port);
  }

  // Runs one asynchronous operation to completion under the stream's deadline.
  template <typename Start>
  error_code Await(Start&& start) {
    error_code result = asio::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  void Disconnect() {
    if (!stream) return;
    stream->next_layer().close();
    stream.reset();
    buffer.clear();
  }

  Status Connect() {
    Disconnect();
    error_code ec;
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(server.host, std::to_string(server.port), ec);
    if (ec) return Status::Unavailable("cannot resolve " + server.host + ": " + ec.message());
    stream = std::make_unique<TlsStream>(io, tls);
    SSL* ssl = stream->native_handle();
    if (IsIpLiteral(server.host)) {
      // SNI carries names only (RFC 6066); IP addresses are checked against the
      // certificate's IP SANs.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, server.host.c_str());
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, server.host.c_str());
    }
    stream->next_layer().expires_after(timeout());
    ec = Await([&](auto h) { stream->next_layer().async_connect(endpoints, std::move(h)); });
    if (ec) {
      Disconnect();
      return Status::Unavailable("cannot connect to https://" + origin() + ": " + ec.message());
    }
    stream->next_layer().socket().set_option(tcp::no_delay(true), ec);
    stream->next_layer().expires_after(timeout());
    ec = Await([&](auto h) { stream->async_handshake(ssl::stream_base::client, std::move(h)); });
    if (ec) {
      std::string why = ec.message();
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      Disconnect();
      return Status::Unavailable("TLS handshake with https://" + origin() + " failed: " + why);
    }
    return Status::Ok();
  }

  template <typename Message>
  void AddCommonHeaders(Message& req) {
    req.set(bhttp::field::host, origin());
    req.set(bhttp::field::user_agent, "aegis-cli");
    if (options.bearer_token) req.set(bhttp::field::authorization, "Bearer " + *options.bearer_token);
  }

  // `went_away` is set when the connection closed before any byte of the answer.
  StatusOr<ClientResponse> ReadResponse(bool* went_away = nullptr) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    parser.skip(head_request);  // a HEAD answer announces a body it does not carry
    stream->next_layer().expires_after(timeout());
    const error_code ec = Await([&](auto h) { bhttp::async_read(*stream, buffer, parser, std::move(h)); });
    if (ec) {
      if (went_away) *went_away = !parser.got_some() && ConnectionWentAway(ec);
      Disconnect();
      if (IsTlsAlert(ec)) {
        return Status::Unavailable("https://" + origin() + " refused the TLS connection: " + ec.message());
      }
      return Status::Unavailable("reading response from https://" + origin() + ": " + ec.message());
    }
    auto& msg = parser.get();
    ClientResponse response;
    response.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    response.body = std::move(msg.body());
    if (!msg.keep_alive()) Disconnect();
    return response;
  }

  // Sends a request with `write` (which writes head and body) and reads the
  // answer. A kept-alive connection that the server closed meanwhile (idle
  // timeout) fails before any byte of an answer arrives; like browsers and
  // curl we then retry once on a fresh connection. If sending fails because
  // the server answered early (and closed), that answer is returned.
  StatusOr<ClientResponse> Exchange(const std::function<error_code()>& write) {
    for (int attempt = 0;; ++attempt) {
      const bool reused = stream != nullptr;
      if (!stream) AEGIS_RETURN_IF_ERROR(Connect());
      const error_code ec = write();
      if (!ec) {
        bool went_away = false;
        auto response = ReadResponse(&went_away);
        if (response.ok() || !(reused && attempt == 0 && went_away)) return response;
        continue;
      }
      if (reused && attempt == 0 && ConnectionWentAway(ec)) {
        Disconnect();
        continue;
      }
      if (stream) {
        auto early = ReadResponse();
        if (early.ok()) {
          Disconnect();
          return early;
        }
      }
      Disconnect();
      return Status::Unavailable("sending request to https://" + origin() + ": " + ec.message());
    }
  }
};

HttpsClient::HttpsClient() : impl_(std::make_unique<Impl>()) {}
HttpsClient::~HttpsClient() = default;

StatusOr<std::unique_ptr<HttpsClient>> HttpsClient::Connect(const ClientOptions& options) {
  AEGIS_ASSIGN_OR_RETURN(HostPort server, ParseHttpsUrl(options.server));
  if (options.timeout_seconds <= 0) return Status::InvalidArgument("timeout must be positive");
  std::unique_ptr<HttpsClient> client(new HttpsClient());
  Impl& d = *client->impl_;
  d.options = options;
  d.server = std::move(server);
  SSL_CTX* ctx = d.tls.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  error_code ec;
  if (options.ca_file) {
    d.tls.load_verify_file(options.ca_file->string(), ec);
    if (ec) return Status::InvalidArgument("cannot load CA file '" + options.ca_file->string() + "': " + ec.message());
  } else {
    d.tls.set_default_verify_paths(ec);
    if (ec) return Status::Internal("cannot load the system CA store: " + ec.message());
  }
  d.tls.set_verify_mode(ssl::verify_peer);
  AEGIS_RETURN_IF_ERROR(LoadClientIdentity(ctx, options));
  AEGIS_RETURN_IF_ERROR(d.Connect());
  return client;
}

StatusOr<ClientResponse> HttpsClient::Request(const std::string& method, const std::string& target,
                                              const std::string& body, const std::string& content_type) {
  Impl& d = *impl_;
  AEGIS_RETURN_IF_ERROR(CheckRequestLine(method, target));
  d.head_request = method == "HEAD";
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  d.AddCommonHeaders(req);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.set(bhttp::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
  }
  return d.Exchange([&] {
    d.stream->next_layer().expires_after(d.timeout());
    return d.Await([&](auto h) { bhttp::async_write(*d.stream, req, std::move(h)); });
  });
}

StatusOr<ClientResponse> HttpsClient::Upload(const std::string& method, const std::string& target,
                                             const std::filesystem::path& file,
                                             const std::function<void(uint64_t, uint64_t)>& progress,
                                             const std::vector<std::pair<std::string, std::string>>& headers) {
  Impl& d = *impl_;
  AEGIS_RETURN_IF_ERROR(CheckRequestLine(method, target));
  for (const auto& [name, value] : headers) {
    // No header injection: names and values are single tokens/lines.
    if (name.empty() || (name + value).find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos ||
        name.find_first_of(" :") != std::string::npos) {
      return Status::InvalidArgument("invalid request header '" + name + "'");
    }
  }
  std::error_code fs_ec;
  const uint64_t total = std::filesystem::file_size(file, fs_ec);
  if (fs_ec) return Status::NotFound("cannot read '" + file.string() + "': " + fs_ec.message());
  d.head_request = false;
  bhttp::request<bhttp::empty_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  d.AddCommonHeaders(req);
  req.set(bhttp::field::content_type, "application/octet-stream");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.content_length(total);
  std::vector<char> chunk(kUploadChunk);
  bool file_failed = false;

  auto result = d.Exchange([&]() -> error_code {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      file_failed = true;
      return asio::error::not_found;
    }
    bhttp::request_serializer<bhttp::empty_body> serializer(req);
    d.stream->next_layer().expires_after(d.timeout());
    error_code ec = d.Await([&](auto h) { bhttp::async_write_header(*d.stream, serializer, std::move(h)); });
    uint64_t sent = 0;
    while (!ec && sent < total) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), total - sent));
      in.read(chunk.data(), static_cast<std::streamsize>(want));
      if (static_cast<size_t>(in.gcount()) != want) {
        // The file shrank under us: the promised Content-Length cannot be met.
        file_failed = true;
        return asio::error::message_size;
      }
      d.stream->next_layer().expires_after(d.timeout());
      ec = d.Await([&](auto h) { asio::async_write(*d.stream, asio::buffer(chunk.data(), want), std::move(h)); });
      if (!ec) {
        sent += want;
        if (progress) progress(sent, total);
      }
    }
    return ec;
  });
  if (file_failed && !result.ok()) {
    return Status::Unavailable("uploading '" + file.string() + "': the file could not be read completely");
  }
  return result;
}

}  // namespace aegis::http
