// JSON string escaping and number formatting; see json_writer.h.
#include "json_writer.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>

#include "aegis/api/v2_codec.h"

namespace aegis::api {
namespace internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// True for bytes that can be copied verbatim: printable ASCII except '"' and '\\'.
constexpr bool IsPlainAscii(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode Table 3-7),
// or 0 if ill-formed; then *bad is the length of the maximal ill-formed subpart
// (at least 1) to replace by one U+FFFD.
size_t Utf8SequenceLength(std::string_view s, size_t i, size_t* bad) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char lead = byte(0);
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // Allowed range of the second byte.
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;  // No overlongs.
    if (lead == 0xED) hi = 0x9F;  // No surrogates.
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;  // No overlongs.
    if (lead == 0xF4) hi = 0x8F;  // Nothing above U+10FFFF.
  } else {
    *bad = 1;  // Stray continuation byte, C0/C1 or F5..FF.
    return 0;
  }
  size_t k = 1;
  for (; k < need && i + k < s.size(); ++k) {
    const unsigned char c = byte(k);
    const bool ok = (k == 1) ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) break;
  }
  if (k == need) return need;
  *bad = k;
  return 0;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of plain ASCII in one go: the common case for names.
    size_t run = i;
    while (run < s.size() && IsPlainAscii(static_cast<unsigned char>(s[run]))) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;

    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          out.append(esc, sizeof(esc));
        }
      }
      ++i;
      continue;
    }
    size_t bad = 0;
    const size_t len = Utf8SequenceLength(s, i, &bad);
    if (len != 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append(kReplacement);
      i += bad;
    }
  }
  out.push_back('"');
}

char* WriteInt(char* p, int64_t v) { return std::to_chars(p, p + kMaxNumberChars, v).ptr; }
char* WriteUint(char* p, uint64_t v) { return std::to_chars(p, p + kMaxNumberChars, v).ptr; }

namespace {
// Writes `word` at p (no NUL: callers track the end) and returns its end.
char* WriteWord(char* p, std::string_view word) { return std::copy(word.begin(), word.end(), p); }

template <typename F>
char* WriteFloating(char* p, F v) {
  if (std::isnan(v)) return WriteWord(p, "NaN");
  if (std::isinf(v)) return WriteWord(p, v < 0 ? "-Infinity" : "Infinity");
  // std::to_chars writes -0.0 as "-0", which JSON parsers read as the integer 0:
  // keep a fraction so the sign survives the round trip.
  if (v == 0 && std::signbit(v)) return WriteWord(p, "-0.0");
  // Shortest form that round-trips; "1e+20" is a valid JSON number. to_chars
  // prefers plain digits when not longer, which for magnitudes from 2^63 to about
  // 1e23 yields integers too big for int64/uint64 readers (simdjson included):
  // those are written in scientific form instead.
  constexpr F kInt64Limit = static_cast<F>(9.2e18);
  if (std::fabs(v) >= kInt64Limit) return std::to_chars(p, p + kMaxNumberChars, v, std::chars_format::scientific).ptr;
  return std::to_chars(p, p + kMaxNumberChars, v).ptr;
}
}  // namespace

char* WriteFloat(char* p, float v) {
  // Readers (simdjson included) parse JSON numbers as doubles, and a float's
  // shortest decimal read as a double and then rounded to float can round twice.
  // An exhaustive check of all 2^32 floats found exactly one such value (and its
  // negative): 7.038531e-26 reads back one ulp off. Writing it with the digits of
  // the (exact) double instead makes every float round-trip.
  constexpr uint32_t kDoubleRoundingTrap = 0x15ae43fd;
  if ((std::bit_cast<uint32_t>(v) & 0x7fffffffu) == kDoubleRoundingTrap)
    return WriteFloating(p, static_cast<double>(v));
  return WriteFloating(p, v);
}
char* WriteDouble(char* p, double v) { return WriteFloating(p, v); }

}  // namespace internal

std::string JsonQuote(std::string_view s) {
  std::string out;
  internal::AppendJsonString(out, s);
  return out;
}

}  // namespace aegis::api
