#include "request_support.h"

#include <atomic>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "aegis/common/log.h"
#include "aegis/crypto/encoding.h"

namespace aegis::http::internal {

std::string NewRequestId() {
  unsigned char bytes[8];
  static std::atomic<uint64_t> fallback{0};
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Only uniqueness matters for a request id; never fail a request over it.
    uint64_t n = fallback.fetch_add(1) | (uint64_t{1} << 63);
    for (auto& b : bytes) b = static_cast<unsigned char>(n), n >>= 8;
  }
  return crypto::HexEncode(bytes);
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string s = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return s + ":" + std::to_string(endpoint.port());
}

void FillHead(const RequestParser& parser, RequestHead& head) {
  const auto& msg = parser.get();
  head.method.assign(msg.method_string());
  head.target.assign(msg.target());
  head.headers.reserve(8);
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    head.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  if (const auto length = parser.content_length()) head.content_length = *length;
}

Response CallHandler(const std::function<Response(Request&)>& handler, Request& request) noexcept {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    log::Error({.request_id = request.head.request_id}, "{} {}: handler threw: {}", request.head.method,
               request.head.path, e.what());
  } catch (...) {
    log::Error({.request_id = request.head.request_id}, "{} {}: handler threw", request.head.method, request.head.path);
  }
  return Response::Error(500, "internal error");
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): owns the Reply, which answers 500 when its last copy drops
void CallAsyncHandler(const std::function<void(Request&, Reply)>& handler, Request& request, Reply reply) noexcept {
  try {
    handler(request, reply);
    return;
  } catch (const std::exception& e) {
    log::Error({.request_id = request.head.request_id}, "{} {}: handler threw: {}", request.head.method,
               request.head.path, e.what());
  } catch (...) {
    log::Error({.request_id = request.head.request_id}, "{} {}: handler threw", request.head.method, request.head.path);
  }
  reply(Response::Error(500, "internal error"));
}

void Completion::Report(int status, std::string_view error) {
  if (reported_) return;
  reported_ = true;
  if (!callback_) return;
  try {
    callback_(RequestEnd{status, std::chrono::steady_clock::now() - start_, error, bytes_in_, bytes_out_});
  } catch (const std::exception& e) {
    spdlog::error("on_complete threw: {}", e.what());
  } catch (...) {
    spdlog::error("on_complete threw");
  }
}

}  // namespace aegis::http::internal
