// Serializes a Response's status line and headers straight into a reusable
// buffer, so that header and (small) body leave in one TLS write and no
// beast::http::fields allocations happen per request. Every response carries the
// security headers (HSTS, nosniff, no-store) whatever the handler set.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>

#include "aegis/http/message.h"

namespace aegis::http::internal {

struct ResponseFraming {
  bool keep_alive = true;
  unsigned version = 11;      // 10 or 11, as in the request
  bool head_request = false;  // HEAD: Content-Length but no body
};

// Whether `response` is sent with a body (not for HEAD, 1xx, 204, 304).
bool HasBody(const Response& response, const ResponseFraming& framing);

// Appends the head (status line, headers, blank line) to `out`. Extra headers
// that could split the response (CR, LF, NUL) or that would contradict the
// framing (Content-Length, Transfer-Encoding, Connection) are dropped.
void AppendResponseHead(const Response& response, const ResponseFraming& framing, std::string& out);

}  // namespace aegis::http::internal
