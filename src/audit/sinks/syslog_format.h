// RFC 5424 syslog messages for audit events and signed tree heads (internal to
// src/audit), RFC 6587 octet-counting framing, and size limiting that never
// splits a UTF-8 sequence.
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
//       [aegis@32473 seq="LOG SEQ" decision=".." status=".." principal=".." resource=".."]
//       [meta sequenceId="N"] BOM{json}
//
// PRI = facility * 8 + severity (deny → warning, otherwise info). MSGID is the
// event's action; the aegis@32473 element repeats the fields a SIEM filters on
// (seq is the event's position in the local log, when it has one); the RFC 5424
// meta element counts the messages this sink formed, so a receiver sees gaps
// where drops happened. MSG is the whole event JSON, marked UTF-8 by the BOM as
// RFC 5424 §6.4 asks. 32473 is the private enterprise number IANA reserves for
// examples (RFC 5612).
//
// Thread-safety: stateless functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace aegis::audit::internal {

inline constexpr std::string_view kSdId = "aegis@32473";
inline constexpr int kSeverityWarning = 4;
inline constexpr int kSeverityInfo = 6;

struct SyslogOrigin {
  int facility = 10;           // authpriv
  std::string hostname = "-";  // already sanitized (SanitizeHeaderField)
  std::string app_name = "aegis";
  std::string procid = "-";
};

// One message for an event line (as the audit log wrote it). `seq` (1, 2, ...)
// counts the messages this sink formed (meta sequenceId). `now` is used when the
// event carries no usable time.
std::string FormatEventMessage(const SyslogOrigin& origin, std::string_view event_json, uint64_t seq,
                               std::chrono::system_clock::time_point now);
// One message for a signed tree head (MSGID "tree_head").
std::string FormatHeadMessage(const SyslogOrigin& origin, std::string_view head_json, uint64_t seq,
                              std::chrono::system_clock::time_point now);

// A header field (HOSTNAME, APP-NAME, PROCID, MSGID): bytes outside PRINTUSASCII
// (33..126) become '_', at most `max` bytes, "-" (the NILVALUE) when empty.
std::string SanitizeHeaderField(std::string_view s, size_t max);
// An SD PARAM-VALUE: '"', '\' and ']' escaped with '\' (RFC 5424 §6.3.3); control
// characters become '?'; at most `max` input bytes, cut on a UTF-8 boundary.
std::string EscapeSdValue(std::string_view s, size_t max = 256);

// Shortens `message` to at most `max_bytes` without splitting a UTF-8 sequence.
void TruncateUtf8(std::string& message, size_t max_bytes);
// RFC 6587 §3.4.1 octet counting: "LEN SP MSG".
std::string OctetCountingFrame(std::string_view message);

}  // namespace aegis::audit::internal
