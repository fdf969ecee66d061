// libFuzzer target: a request head judged as the server judges it (raw bytes,
// then Beast's parser, then the framing checks). Beyond "no crash", an accepted
// head has exactly one reading of its body's framing:
//   - Beast ended the head where FindHeadEnd did (the raw checks saw all of it);
//   - a Transfer-Encoding field exists exactly when Beast reads the body as
//     chunked, and never with Content-Length or in HTTP/1.0;
//   - each of the single-valued fields appears at most once;
//   - no prefix of it (at a line end) was refused early by RefusedBeforeHeadEnd,
//     so reading heads whole never refuses what Beast would accept.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "http/internal/framing.h"

namespace {

namespace bhttp = boost::beast::http;
using aegis::http::internal::CheckFraming;
using aegis::http::internal::CheckHeadBytes;
using aegis::http::internal::FindHeadEnd;
using aegis::http::internal::RefusedBeforeHeadEnd;

void Check(bool invariant) {
  if (!invariant) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const size_t end = FindHeadEnd(raw, 0);
  if (end == std::string_view::npos) return 0;
  if (CheckHeadBytes(raw.substr(0, end))) return 0;
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.eager(false);
  parser.header_limit(64 * 1024);
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& head = parser.get();
  if (CheckFraming(head)) return 0;

  Check(used == end);
  const bool te = head.count(bhttp::field::transfer_encoding) > 0;
  Check(te == parser.chunked());
  if (te) Check(head.version() == 11 && head.count(bhttp::field::content_length) == 0);
  for (const char* name : {"Host", "Content-Length", "Transfer-Encoding", "Authorization", "Content-Type",
                           "Inference-Header-Content-Length"}) {
    Check(head.count(name) <= 1);
  }
  if (head.count(bhttp::field::content_length) == 1) Check(parser.content_length().has_value());
  for (size_t at = raw.find('\n'); at != std::string_view::npos && at + 1 < end; at = raw.find('\n', at + 1)) {
    Check(!RefusedBeforeHeadEnd(raw.substr(0, at + 1)));
  }
  return 0;
}
