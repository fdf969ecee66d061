// How one server log line is written, as text or as JSON: pure functions, so
// that the escaping that keeps untrusted strings (paths, model names, engine
// messages, client addresses) from forging log lines can be tested alone.
//
// Text:  2024-05-01T12:00:00.123Z info model loaded request_id=3f2a model=mlp
// JSON:  {"time":"2024-05-01T12:00:00.123Z","level":"info","message":"model loaded",
//         "request_id":"3f2a","model":"mlp"}
//
// Neither format lets a string end a line early or start a new one: in text,
// control characters (C0, DEL, C1, U+2028/U+2029) and bytes that are not UTF-8
// become \n, \r, \t, \xNN or \uNNNN; in JSON every string is a JSON string (control
// characters as \uXXXX, invalid UTF-8 as U+FFFD), so one line is one object.
//
// Thread-safety: stateless functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace aegis::log {

// "text" | "json" ([logging] format).
enum class Format { kText, kJson };

// Structured fields of a line, where the call site has them; empty (or 0)
// fields are left out.
struct Fields {
  std::string_view request_id;
  std::string_view model;
  std::string_view version;
  std::string_view principal;
  int status = 0;  // an HTTP status
};

// Appends `s` as a JSON string, quotes included.
void AppendJsonString(std::string& out, std::string_view s);
// Appends `s` with control characters and bytes that are not UTF-8 escaped
// (\n, \r, \t, \xNN, \u2028); everything else, backslashes included, as is.
void AppendEscapedText(std::string& out, std::string_view s);
// "2024-05-01T12:00:00.123Z": RFC 3339, UTC, milliseconds.
void AppendRfc3339(std::string& out, std::chrono::system_clock::time_point time);

// One whole line, newline included. `level` is a level name ("info", ...).
std::string FormatLine(Format format, std::chrono::system_clock::time_point time, std::string_view level,
                       std::string_view message, const Fields& fields);

}  // namespace aegis::log
