#include "body_reader.h"

#include <algorithm>

#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

namespace aegis::http::internal {
namespace {

namespace bhttp = beast::http;

constexpr size_t kInitialBody = size_t{64} * 1024;

}  // namespace

Status ReadFailure::AsStatus() const {
  switch (status) {
    case 413:
      return Status::TooLarge(reason);
    case 400:
    case 431:
      return Status::InvalidArgument(reason);
    default:
      return Status::Unavailable(reason);
  }
}

ReadFailure ClassifyReadError(const error_code& ec) {
  if (ec == bhttp::error::header_limit) return {431, "request header too large", true, true};
  if (ec == bhttp::error::body_limit) return {413, "request body too large", true, true};
  // The read buffer holds at most the header limit and one read: only a
  // chunked body's trailer section can fill it.
  if (ec == bhttp::error::buffer_overflow) return {431, "request trailer too large", true, true};
  if (ec == beast::error::timeout) return {408, "request timed out", false, true};
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return {};
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return {400, "malformed HTTP request", true, true};
  }
  return {};  // reset, truncated TLS stream, closed by Stop(): the client is gone
}

asio::awaitable<size_t> BodyReader::Read(void* data, size_t capacity, error_code& ec) {
  ec = {};
  if (parser_.is_done()) co_return 0;
  auto& body = parser_.get().body();
  body.data = data;
  body.size = capacity;
  co_await bhttp::async_read(stream_, buffer_, parser_, asio::redirect_error(asio::use_awaitable, ec));
  // need_buffer only means our piece is full.
  if (ec == bhttp::error::need_buffer) ec = {};
  co_return capacity - body.size;
}

asio::awaitable<void> BodyReader::ReadAll(std::string& body, std::optional<uint64_t> declared, uint64_t limit,
                                          const std::function<bool(uint64_t)>& admit, error_code& ec) {
  ec = {};
  const uint64_t expected = declared.value_or(limit);
  // The caller checked the declared size against the limit and the memory budget.
  if (declared) body.reserve(static_cast<size_t>(*declared));
  size_t filled = 0;
  while (!parser_.is_done()) {
    if (filled == body.size()) {
      if (body.size() >= expected) {
        // A chunked body exactly at the limit: only the last chunk may follow,
        // and Beast's own limit refuses anything more.
        char scratch[1];
        const size_t extra = co_await Read(scratch, sizeof scratch, ec);
        if (ec) co_return;
        if (extra > 0) {
          ec = bhttp::error::body_limit;
          co_return;
        }
        continue;
      }
      const size_t next = static_cast<size_t>(std::min<uint64_t>(expected, std::max(kInitialBody, body.size() * 2)));
      if (declared) {
        body.resize(next);  // within the capacity reserved above: no reallocation
      } else {
        if (!admit(next)) {
          ec = asio::error::no_buffer_space;
          co_return;
        }
        // A fresh string reserves exactly `next`: growing in place may round the
        // capacity up to twice the old one, past what was admitted.
        std::string bigger;
        bigger.reserve(next);
        bigger.append(body.data(), filled);
        bigger.resize(next);
        body.swap(bigger);
      }
    }
    filled += co_await Read(body.data() + filled, body.size() - filled, ec);
    if (ec) co_return;
  }
  body.resize(filled);
}

SinkSession::~SinkSession() {
  if (!ended_) Abort(Status::Unavailable("request abandoned"));
}

Status SinkSession::Write(std::span<const uint8_t> chunk) noexcept {
  try {
    return sink_.Write(chunk);
  } catch (const std::exception& e) {
    spdlog::error("body sink Write threw: {}", e.what());
  } catch (...) {
    spdlog::error("body sink Write threw");
  }
  return Status::Internal("internal error");
}

Response SinkSession::Finish() noexcept {
  ended_ = true;
  try {
    return sink_.Finish();
  } catch (const std::exception& e) {
    spdlog::error("body sink Finish threw: {}", e.what());
  } catch (...) {
    spdlog::error("body sink Finish threw");
  }
  // The sink is in an unknown state: let it undo what it did.
  ended_ = false;
  Abort(Status::Internal("internal error"));
  return Response::Error(500, "internal error");
}

bool SinkSession::Abort(const Status& why) noexcept {
  if (ended_) return false;
  ended_ = true;
  try {
    sink_.Abort(why);
  } catch (const std::exception& e) {
    spdlog::error("body sink Abort threw: {}", e.what());
  } catch (...) {
    spdlog::error("body sink Abort threw");
  }
  return true;
}

}  // namespace aegis::http::internal
