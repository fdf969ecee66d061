// Low-level JSON output for the KServe v2 codec: string literals and numbers
// appended to a std::string, without iostreams or locale (this is the response hot
// path).
//
// Strings: escaped per RFC 8259 (quote, backslash and every control character
// below U+0020); invalid UTF-8 is replaced by U+FFFD, one replacement per maximal
// ill-formed subpart as Unicode recommends (section 3.9, "U+FFFD substitution of
// maximal subparts"), so the output is always valid UTF-8 JSON.
//
// Numbers: integers exactly; floats and doubles in the shortest form that parses
// back to the same value (std::to_chars); non-finite values as NaN, Infinity and
// -Infinity (see v2_codec.h).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aegis::api::internal {

// Appends `s` as a quoted JSON string literal.
void AppendJsonString(std::string& out, std::string_view s);

// Upper bound on the characters any Write* below produces for one value.
inline constexpr size_t kMaxNumberChars = 32;

// Each writes one value at `p` (with room for kMaxNumberChars) and returns the end.
char* WriteInt(char* p, int64_t v);
char* WriteUint(char* p, uint64_t v);
char* WriteFloat(char* p, float v);
char* WriteDouble(char* p, double v);

}  // namespace aegis::api::internal
