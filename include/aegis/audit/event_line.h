// The exact bytes of one audit event on disk: a JSON object on one line whose
// first members are fixed by the writer,
//
//   {"seq":17,"prev":"<64 hex>",["replica":"<id>",]"time":"…","request_id":…, …}
//
// `seq` is the event's leaf index in the Merkle tree and `prev` the hex leaf hash
// of the event before it (64 zeros for event 0). `replica` names the replica
// whose log this is, in a fleet sharing PostgreSQL (tree_head.h); a log of a
// single server leaves it out, so its lines keep the bytes they always had. The tree and its signed heads
// are what make the log tamper-evident; `seq` and `prev` let a verifier name the
// first altered, removed or reordered event instead of only saying that a root
// differs. The leaf hash covers the whole line without its newline.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aegis/audit/merkle.h"

namespace aegis::audit {

struct AuditEvent;

// Appends the event's line (no newline) to `out`. Strings are escaped as JSON;
// invalid UTF-8 (names in paths come from clients) is replaced by U+FFFD.
// `replica` empty: no replica member.
void AppendEventLine(uint64_t seq, const Hash& prev, std::string_view replica, const AuditEvent& event,
                     std::string& out);

// The event's members, each preceded by a comma: `,"time":…,"request_id":…`.
void AppendEventMembers(const AuditEvent& event, std::string& out);

struct LinePrefix {
  uint64_t seq = 0;
  Hash prev{};
};

// Parses the fixed `{"seq":N,"prev":"…",` prefix; nullopt when the line does not
// start exactly so (a malformed or foreign line).
std::optional<LinePrefix> ParseLinePrefix(std::string_view line);

// The `"time":"…"` member of a line written by AppendEventLine (empty if absent).
std::string_view LineTime(std::string_view line);

// JSON string escaping as used in event lines (appends the quoted string).
void AppendJsonString(std::string_view s, std::string& out);

}  // namespace aegis::audit
