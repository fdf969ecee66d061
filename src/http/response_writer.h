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

// The request's correlation ids, which every response carries whatever the
// handler set (X-Request-Id; traceparent when the client sent a valid one).
struct ResponseIds {
  std::string_view request_id;   // empty: none known (the head never parsed)
  std::string_view traceparent;  // empty: none
};

// Appends the head (status line, headers, blank line) to `out`. Extra headers
// that could split the response (CR, LF, NUL), that would contradict the
// framing (Content-Length, Transfer-Encoding, Connection) or the ids
// (X-Request-Id, traceparent) are dropped.
void AppendResponseHead(const Response& response, const ResponseFraming& framing, std::string& out,
                        const ResponseIds& ids = {});

}  // namespace aegis::http::internal
