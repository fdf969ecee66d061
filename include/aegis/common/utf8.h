// UTF-8 well-formedness, for text that comes from clients (names in paths, user
// names) before it is logged or stored.
//
// Thread-safety: stateless.
#pragma once

#include <cstddef>
#include <string_view>

namespace aegis {

// Length (1-4) of the well-formed UTF-8 sequence that starts at s[i]; 0 when it
// is not one (a stray continuation byte, a truncated sequence, an overlong form,
// a surrogate or a value past U+10FFFF). Requires i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace aegis
