// Decoders for the text forms of pickle strings, as CPython's unpickler reads them:
// UNICODE ('V', raw-unicode-escape) and STRING ('S', a quoted Python 2 literal with
// backslash escapes). Module and class names can arrive in either form, so the
// scanner decodes them exactly instead of comparing the raw bytes.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aegis::scan::internal {

// raw-unicode-escape: \uXXXX and \UXXXXXXXX are code points, every other byte is a
// Latin-1 code point. Returns UTF-8 (surrogates encoded as three bytes), or nullopt
// where CPython raises (truncated or non-hex escape, code point above U+10FFFF).
std::optional<std::string> DecodeRawUnicodeEscape(std::string_view raw);

// The inside of a STRING literal (quotes already removed), decoded like
// PyBytes_DecodeEscape: \\ \' \" \a \b \f \n \r \t \v, \ooo, \xHH, backslash-newline;
// unknown escapes are kept. nullopt where CPython raises (bad \x, trailing \).
std::optional<std::string> DecodeStringLiteral(std::string_view inside);

}  // namespace aegis::scan::internal
