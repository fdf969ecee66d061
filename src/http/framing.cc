#include "http/internal/framing.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace aegis::http::internal {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::string_view kHeadEnd = "\r\n\r\n";

// Fields a request may carry once at most (Host: exactly once in HTTP/1.1),
// counted in one pass over the head.
enum Single : size_t {
  kHost,
  kContentLength,
  kTransferEncoding,
  kAuthorization,
  kContentType,
  kInferenceHeader,
  kCount
};
constexpr std::string_view kSingleReasons[kCount] = {
    "more than one Host header",
    "more than one Content-Length header",
    "more than one Transfer-Encoding header",
    "more than one Authorization header",
    "more than one Content-Type header",
    "more than one Inference-Header-Content-Length header",
};

size_t SingleIndex(const bhttp::fields::value_type& field) {
  switch (field.name()) {
    case bhttp::field::host:
      return kHost;
    case bhttp::field::content_length:
      return kContentLength;
    case bhttp::field::transfer_encoding:
      return kTransferEncoding;
    case bhttp::field::authorization:
      return kAuthorization;
    case bhttp::field::content_type:
      return kContentType;
    case bhttp::field::unknown:
      return boost::beast::iequals(field.name_string(), "Inference-Header-Content-Length") ? kInferenceHeader : kCount;
    default:
      return kCount;
  }
}

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.6.2 tchar.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// Only "chunked" alone is served. RFC 9112 §6.3: a request whose final coding
// is not chunked has no reliable length (400); chunked applied twice is a
// framing error too. Other codings before chunked are well formed but not
// implemented (501, as §6.1 suggests).
std::optional<FramingError> CheckTransferEncoding(std::string_view value) {
  size_t codings = 0, chunked = 0;
  std::string_view last;
  for (;;) {
    const size_t comma = value.find(',');
    const std::string_view coding = TrimOws(value.substr(0, comma));
    if (!IsToken(coding)) return FramingError{400, "malformed Transfer-Encoding"};
    ++codings;
    if (boost::beast::iequals(coding, "chunked")) ++chunked;
    last = coding;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (!boost::beast::iequals(last, "chunked")) return FramingError{400, "Transfer-Encoding must end with chunked"};
  if (chunked > 1) return FramingError{400, "chunked applied more than once"};
  if (codings > 1) return FramingError{501, "transfer coding not implemented"};
  return std::nullopt;
}

}  // namespace

size_t FindHeadEnd(std::string_view data, size_t from) {
  const size_t start = from > kHeadEnd.size() - 1 ? from - (kHeadEnd.size() - 1) : 0;
  const size_t at = data.find(kHeadEnd, start);
  return at == std::string_view::npos ? at : at + kHeadEnd.size();
}

bool RefusedBeforeHeadEnd(std::string_view partial) {
  bhttp::request_parser<bhttp::empty_body> probe;
  probe.eager(false);
  probe.header_limit(std::numeric_limits<uint32_t>::max());  // the session enforces the real one
  boost::beast::error_code ec;
  probe.put(boost::asio::buffer(partial.data(), partial.size()), ec);
  return ec && ec != bhttp::error::need_more;
}

std::optional<FramingError> CheckHeadBytes(std::string_view head) {
  // obs-fold: a line break followed by SP or HTAB. Bare CR and LF need no check
  // here: Beast refuses them.
  for (size_t at = head.find('\n'); at != std::string_view::npos; at = head.find('\n', at + 1)) {
    if (at + 1 < head.size() && IsOws(head[at + 1])) return FramingError{400, "obsolete line folding in header"};
  }
  return std::nullopt;
}

std::optional<FramingError> CheckFraming(const bhttp::request_header<>& head) {
  size_t counts[kCount] = {};
  const bhttp::fields::value_type* te = nullptr;
  const bhttp::fields::value_type* cl = nullptr;
  for (const auto& field : head) {
    const size_t i = SingleIndex(field);
    if (i == kCount) continue;
    if (++counts[i] > 1) return FramingError{400, kSingleReasons[i]};
    if (i == kTransferEncoding) te = &field;
    if (i == kContentLength) cl = &field;
  }
  // RFC 9112 §3.2: Host exactly once in HTTP/1.1, at most once before it. Two
  // Host lines let a proxy and this server disagree on which site is meant.
  if (counts[kHost] == 0 && head.version() == 11) return FramingError{400, "missing Host header"};
  if (te != nullptr) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; with
    // Content-Length, the two disagree on where the body ends.
    if (head.version() < 11) return FramingError{400, "Transfer-Encoding in an HTTP/1.0 request"};
    if (cl != nullptr) return FramingError{400, "both Content-Length and Transfer-Encoding"};
    return CheckTransferEncoding(te->value());
  }
  if (cl != nullptr) {
    // Beast accepts a list of equal values ("5, 5"); a proxy may not.
    const std::string_view value = TrimOws(cl->value());
    const bool digits =
        !value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) return FramingError{400, "malformed Content-Length"};
  }
  return std::nullopt;
}

}  // namespace aegis::http::internal
