#include "pickle_strings.h"

#include <cstdint>

namespace aegis::scan::internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::optional<std::string> DecodeRawUnicodeEscape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    auto c = static_cast<unsigned char>(raw[i++]);
    if (c != '\\' || i == raw.size()) {
      AppendUtf8(c, out);
      continue;
    }
    char kind = raw[i++];
    int digits = kind == 'u' ? 4 : kind == 'U' ? 8 : 0;
    if (digits == 0) {  // not an escape: both characters stand for themselves
      out += '\\';
      AppendUtf8(static_cast<unsigned char>(kind), out);
      continue;
    }
    uint32_t cp = 0;
    for (int d = 0; d < digits; ++d) {
      if (i == raw.size()) return std::nullopt;
      int v = HexValue(raw[i++]);
      if (v < 0) return std::nullopt;
      cp = cp << 4 | static_cast<uint32_t>(v);
    }
    if (cp > 0x10FFFF) return std::nullopt;
    AppendUtf8(cp, out);
  }
  return out;
}

std::optional<std::string> DecodeStringLiteral(std::string_view inside) {
  std::string out;
  out.reserve(inside.size());
  size_t i = 0;
  while (i < inside.size()) {
    char c = inside[i++];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i == inside.size()) return std::nullopt;  // "Trailing \ in string"
    char e = inside[i++];
    switch (e) {
      case '\n':
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'v':
        out += '\v';
        break;
      case 'a':
        out += '\a';
        break;
      case 'x': {
        if (inside.size() - i < 2) return std::nullopt;
        int hi = HexValue(inside[i]), lo = HexValue(inside[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          unsigned value = static_cast<unsigned>(e - '0');
          for (int d = 0; d < 2 && i < inside.size() && inside[i] >= '0' && inside[i] <= '7'; ++d) {
            value = value * 8 + static_cast<unsigned>(inside[i++] - '0');
          }
          out += static_cast<char>(value & 0xFF);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

}  // namespace aegis::scan::internal
