// The BYTES tensor layout shared by JSON and binary data: each element is a 4-byte
// little-endian length followed by that many bytes (see runtime/tensor.h).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace aegis::api::internal {

// Calls visit(std::string_view element) for each element of `data` and returns the
// element count, or nullopt if a length prefix is truncated or runs past the end
// (then `visit` may have seen a prefix of the elements). The scan never reads past
// `data`, whatever the prefixes claim.
template <typename Visit>
std::optional<uint64_t> ForEachBytesElement(std::string_view data, Visit&& visit) {
  uint64_t count = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < 4) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
    const uint32_t len = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
    pos += 4;
    if (len > data.size() - pos) return std::nullopt;
    visit(data.substr(pos, len));
    pos += len;
    ++count;
  }
  return count;
}

inline std::optional<uint64_t> CountBytesElements(std::string_view data) {
  return ForEachBytesElement(data, [](std::string_view) {});
}

// Appends one element (length prefix + bytes) to `out`. `s.size()` must fit in
// 32 bits; callers check.
template <typename Buffer>
void AppendBytesElement(Buffer& out, std::string_view s) {
  const auto len = static_cast<uint32_t>(s.size());
  const unsigned char prefix[4] = {static_cast<unsigned char>(len), static_cast<unsigned char>(len >> 8),
                                   static_cast<unsigned char>(len >> 16), static_cast<unsigned char>(len >> 24)};
  out.insert(out.end(), prefix, prefix + 4);
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace aegis::api::internal
