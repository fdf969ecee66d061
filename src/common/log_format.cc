#include "aegis/common/log_format.h"

#include <cstdint>
#include <ctime>

#include "aegis/common/utf8.h"

namespace aegis::log {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHexByte(std::string& out, unsigned char b) {
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

void AppendU4(std::string& out, uint32_t cp) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
}

// The code point of the well-formed sequence of `len` bytes at s[i].
uint32_t CodePoint(std::string_view s, size_t i, size_t len) {
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t cp = static_cast<unsigned char>(s[i]) & kLeadMask[len];
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// Characters that end or rewrite a line on a terminal or in a log viewer:
// C1 controls (U+0085 is a line break to some readers) and the Unicode line
// and paragraph separators.
bool IsLineBreakingCodePoint(uint32_t cp) { return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029; }

// A field value that needs no quotes in text: printable ASCII without spaces,
// quotes, backslashes or '='.
bool IsBareTextValue(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7F || c == '"' || c == '\\' || c == '=') return false;
  }
  return true;
}

void AppendTextField(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  out += ' ';
  out += key;
  out += '=';
  if (IsBareTextValue(value)) {
    out += value;
  } else {
    AppendJsonString(out, value);
  }
}

void AppendJsonField(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  out += ",\"";
  out += key;
  out += "\":";
  AppendJsonString(out, value);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      switch (b) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (b < 0x20 || b == 0x7F) {
            AppendU4(out, b);
          } else {
            out += static_cast<char>(b);
          }
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\\ufffd";  // JSON text is UTF-8: a stray byte cannot be carried as it is
      ++i;
      continue;
    }
    const uint32_t cp = CodePoint(s, i, len);
    if (IsLineBreakingCodePoint(cp)) {
      AppendU4(out, cp);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

void AppendEscapedText(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '\n') {
        out += "\\n";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b == '\t') {
        out += "\\t";
      } else if (b < 0x20 || b == 0x7F) {
        out += "\\x";
        AppendHexByte(out, b);
      } else {
        out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\\x";
      AppendHexByte(out, b);
      ++i;
      continue;
    }
    const uint32_t cp = CodePoint(s, i, len);
    if (IsLineBreakingCodePoint(cp)) {
      AppendU4(out, cp);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
}

void AppendRfc3339(std::string& out, std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  out += '.';
  out += static_cast<char>('0' + millis / 100);
  out += static_cast<char>('0' + millis / 10 % 10);
  out += static_cast<char>('0' + millis % 10);
  out += 'Z';
}

std::string FormatLine(Format format, std::chrono::system_clock::time_point time, std::string_view level,
                       std::string_view message, const Fields& fields) {
  std::string out;
  out.reserve(64 + message.size());
  const std::string status = fields.status != 0 ? std::to_string(fields.status) : std::string();
  if (format == Format::kJson) {
    out += "{\"time\":\"";
    AppendRfc3339(out, time);
    out += "\",\"level\":";
    AppendJsonString(out, level);
    out += ",\"message\":";
    AppendJsonString(out, message);
    AppendJsonField(out, "request_id", fields.request_id);
    AppendJsonField(out, "model", fields.model);
    AppendJsonField(out, "version", fields.version);
    AppendJsonField(out, "principal", fields.principal);
    if (!status.empty()) out += ",\"status\":" + status;
    out += "}\n";
    return out;
  }
  AppendRfc3339(out, time);
  out += ' ';
  AppendEscapedText(out, level);
  out += ' ';
  AppendEscapedText(out, message);
  AppendTextField(out, "request_id", fields.request_id);
  AppendTextField(out, "model", fields.model);
  AppendTextField(out, "version", fields.version);
  AppendTextField(out, "principal", fields.principal);
  AppendTextField(out, "status", status);
  out += '\n';
  return out;
}

}  // namespace aegis::log
