// Request framing checks that close the doors to request smuggling (desync):
// every request either has exactly one reading of where its body ends, the one
// RFC 9112 §6 gives, or is refused with 400 (501 for a transfer coding we do
// not implement) and its connection closed, so no byte after it is ever parsed
// as a request. A proxy in front of Aegis that reads a head differently from
// us must see its request refused, never half-served.
//
// Beast parses the head; these checks add what Beast lets through:
//   - obs-fold (a field line continued on the next line after SP/HTAB), which
//     Beast unfolds in place; it is refused before Beast sees the head
//     (RFC 9112 §5.2 allows refusing), since a proxy may read the folded line
//     as a header of its own;
//   - a Transfer-Encoding other than exactly "chunked" (Beast treats an
//     unknown final coding as "no body"), Transfer-Encoding in HTTP/1.0, and
//     Transfer-Encoding with Content-Length in either order;
//   - a Content-Length that is not a single decimal number ("5, 5");
//   - more than one of the fields whose first and last occurrence a proxy and
//     this server might pick differently: Host, Content-Length,
//     Transfer-Encoding, Authorization, Content-Type and
//     Inference-Header-Content-Length. Duplicates are refused even when their
//     values are equal: there is no benign reason to send two.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include <boost/beast/http/message.hpp>

namespace aegis::http::internal {

// A framing refusal: the status to answer before the connection is closed.
struct FramingError {
  int status;
  std::string_view reason;  // static text, safe to show the client
};

// Offset just past the "\r\n\r\n" that ends the head in `data`, searching from
// `from` (a resume point: pass the size already searched); npos if none yet.
size_t FindHeadEnd(std::string_view data, size_t from);

// True if Beast already refuses `partial`, a head still missing its end (a bad
// request line, a bare LF): the session then stops waiting for the rest and
// lets Beast answer at once, as it did before heads were read whole.
bool RefusedBeforeHeadEnd(std::string_view partial);

// The raw head, request line through the empty line: refuses obs-fold.
std::optional<FramingError> CheckHeadBytes(std::string_view head);

// The parsed head: the field rules above.
std::optional<FramingError> CheckFraming(const boost::beast::http::request_header<>& head);

}  // namespace aegis::http::internal
