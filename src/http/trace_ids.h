// Request correlation ids a client may send: `X-Request-Id` and the W3C Trace
// Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header).
// A value that passes these checks is adopted (the request id) or recorded (the
// traceparent), written to the audit log and the server log, and echoed in the
// response; anything else is ignored and the server's own id is used, so a
// client can never put bytes of its choosing into a log line or a header beyond
// this small, fixed alphabet.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

#include "aegis/http/message.h"

namespace aegis::http::internal {

// The longest X-Request-Id adopted: a UUID is 36, a W3C trace id 32.
inline constexpr size_t kMaxClientRequestIdLength = 128;

// 1..kMaxClientRequestIdLength characters of A-Z a-z 0-9 '-' '_' '.' ':'.
bool IsValidClientRequestId(std::string_view id);

// A version-00 traceparent exactly as the W3C grammar has it:
// "00-<32 lowercase hex trace-id>-<16 lowercase hex parent-id>-<2 lowercase hex
// flags>", 55 characters, neither id all zeros. Other versions (including the
// invalid "ff"), upper-case hex, padding and extra fields are refused.
bool IsValidTraceparent(std::string_view value);

// Applies the request's correlation headers to `head` (whose request_id is the
// server's): exactly one valid X-Request-Id replaces head.request_id and sets
// request_id_from_client; exactly one valid traceparent is kept in
// head.traceparent. A repeated header is ignored: two values are ambiguous.
void AdoptClientIds(RequestHead& head);

}  // namespace aegis::http::internal
